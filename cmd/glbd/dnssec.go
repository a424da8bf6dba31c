package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/store"
)

// onKeys hands the keys the KeysWatcher read to the handler, which builds
// each changed zone's signer (or keeps the keys in force and says why).
func (a *app) onKeys(zones map[string]*store.ZoneKeys) {
	kp := store.KeysPrefix(a.cfg.Prefix)
	out := make(map[string]*server.ZoneKeys, len(zones))
	for zone, zk := range zones {
		out[zone] = &server.ZoneKeys{Name: store.DNSSECPublicKey(kp, zone), Public: zk.Public, Revision: zk.ModRevision, Private: zk.Private}
	}
	a.handler.ApplyKeys(out)
}

// devKeys makes, in dev mode, the keys of every zone whose document says
// dnssec and that has none yet, through the code glbctl dnssec keygen
// runs, and returns the trust anchors (DS records) of the signed zones to
// print. Keys made before (with -dev-data-dir) are kept.
func (a *app) devKeys(ctx context.Context, adm *store.Admin) ([]string, error) {
	st, err := adm.ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the dev configuration: %w", err)
	}
	var anchors []string
	for name, z := range st.Zones {
		if z.Zone.DNSSEC == nil {
			continue
		}
		zk, err := adm.ReadZoneKeys(ctx, name, false)
		if err != nil {
			return nil, err
		}
		var ks *dnssec.KeySet
		if zk.Public != nil {
			if ks, err = dnssec.DecodeKeySet(name, zk.Public); err != nil {
				return nil, err
			}
		} else {
			d := z.Zone.DNSSEC.WithDefaults()
			var private map[uint16]string
			if ks, private, err = dnssec.MakeKeys(name, d.Algorithm, d.Split, dnssec.DefaultDNSKEYTTL, time.Now()); err != nil {
				return nil, err
			}
			b, err := ks.Encode()
			if err != nil {
				return nil, err
			}
			if err := adm.WriteZoneKeys(ctx, name, 0, b, private, nil); err != nil && !errors.Is(err, store.ErrConflict) {
				return nil, fmt.Errorf("dev dnssec keys of %s: %w", name, err)
			}
		}
		for _, ds := range ks.DS() {
			anchors = append(anchors, strings.ReplaceAll(ds.String(), "\t", " "))
		}
	}
	return anchors, nil
}

// printAnchors prints the dev zones' trust anchors and how to try them.
func (a *app) printAnchors(host, port string) {
	if len(a.anchors) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, "\nDNSSEC trust anchor (DS) of the signed example zone, for a validating resolver:")
	for _, ds := range a.anchors {
		fmt.Fprintf(a.stdout, "  %s\n", ds)
	}
	fmt.Fprintf(a.stdout, "Try: dig @%s -p %s +dnssec www.gslb.example.test A\n", host, port)
}
