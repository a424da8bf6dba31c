package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// dnssecAdmin connects to etcd for the dnssec command. Tests replace it
// to log in as a given user.
var dnssecAdmin = (*app).admin

var dnssecCmd = &command{
	name:     "dnssec",
	synopsis: "keygen|ds|keys|roll <zone> [zsk|ksk] [flags]",
	summary:  "make, show and roll a zone's DNSSEC keys",
	help: `
Manages the DNSSEC keys of a zone. The keys are kept in etcd beside the
configuration, under /glb-keys/ for --prefix /glb/: the public key set at
/glb-keys/public/<zone>, each private key at /glb-keys/private/<zone>/<tag>.
glbctl export never reads them, and no command prints a private key.

  keygen <zone>     make the zone's keys: one combined signing key (CSK),
                    or a KSK and a ZSK with --split
  ds <zone>         print the DS records (SHA-256) the parent should have
  keys <zone>       list the keys: tag, algorithm, role, state, since when
  roll <zone> zsk   take the next step of a ZSK rollover (pre-publish)
  roll <zone> ksk   take the next step of a KSK rollover (double-DS; on a
                    zone with a CSK, the CSK rolls this way)

A rollover has three steps, one per call. A step taken before the TTLs in
force make it safe is refused with the time from which it is (exit 1).
The waits count: the DNSKEY TTL, the zone's largest TTL (from its
configuration), the parent's DS TTL (--ds-ttl) and --propagation.

glbd signs a zone with these keys when its zone document has "dnssec": {},
and picks up each step without a restart.
`,
	run: runDNSSEC,
}

func runDNSSEC(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	alg := fs.Uint("algorithm", uint(dnssec.AlgECDSAP256), "keygen: 13 (ECDSA P-256) or 15 (Ed25519)")
	split := fs.Bool("split", false, "keygen: a KSK and a ZSK instead of one combined signing key")
	dnskeyTTL := fs.Uint("dnskey-ttl", dnssec.DefaultDNSKEYTTL, "keygen: TTL of the DNSKEY, CDS and CDNSKEY records, in seconds")
	dsTTL := fs.Duration("ds-ttl", 24*time.Hour, "roll: TTL of the zone's DS records at the parent")
	propagation := fs.Duration("propagation", 10*time.Minute, "roll: margin for a change to reach every server and the parent")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return fmt.Errorf("%w: want 'dnssec keygen|ds|keys|roll <zone>'", errUsage)
	}
	sub, zone := pos[0], pos[1]
	if zone != strings.ToLower(strings.TrimSuffix(zone, ".")) || schema.CheckDomain(zone) != nil {
		return fmt.Errorf("%w: zone %q: want a lower-case domain name without the trailing dot", errUsage, zone)
	}
	want := 2
	if sub == "roll" {
		want = 3
	}
	if len(pos) != want {
		return fmt.Errorf("%w: dnssec %s takes %d argument(s), got %d", errUsage, sub, want-1, len(pos)-1)
	}
	d := &dnssecRun{a: a, zone: zone}
	switch sub {
	case "keygen":
		if *alg != uint(dnssec.AlgECDSAP256) && *alg != uint(dnssec.AlgEd25519) {
			return fmt.Errorf("%w: --algorithm %d: want 13 (ECDSA P-256) or 15 (Ed25519)", errUsage, *alg)
		}
		if *dnskeyTTL == 0 || *dnskeyTTL > schema.MaxTTL {
			return fmt.Errorf("%w: --dnskey-ttl %d: want 1..%d", errUsage, *dnskeyTTL, schema.MaxTTL)
		}
		return d.withAdmin(ctx, func(ctx context.Context) error { return d.keygen(ctx, uint8(*alg), *split, uint32(*dnskeyTTL)) })
	case "ds":
		return d.withAdmin(ctx, d.show(d.printDS))
	case "keys":
		return d.withAdmin(ctx, d.show(d.printKeys))
	case "roll":
		kind := dnssec.Role(pos[2])
		if kind != dnssec.RoleZSK && kind != dnssec.RoleKSK {
			return fmt.Errorf("%w: roll %q: want zsk or ksk", errUsage, pos[2])
		}
		if *dsTTL <= 0 || *propagation < 0 {
			return fmt.Errorf("%w: --ds-ttl must be positive and --propagation not negative", errUsage)
		}
		return d.withAdmin(ctx, func(ctx context.Context) error { return d.roll(ctx, kind, *dsTTL, *propagation) })
	}
	return fmt.Errorf("%w: unknown dnssec command %q: want keygen, ds, keys or roll", errUsage, sub)
}

// dnssecRun is one dnssec command on one zone.
type dnssecRun struct {
	a    *app
	zone string
	adm  *store.Admin
}

func (d *dnssecRun) withAdmin(ctx context.Context, f func(ctx context.Context) error) error {
	adm, closeAdm, err := dnssecAdmin(d.a)
	if err != nil {
		return err
	}
	defer closeAdm()
	d.adm = adm
	ctx, cancel := context.WithTimeout(ctx, d.a.g.timeout)
	defer cancel()
	return d.a.etcdErr(f(ctx))
}

// read returns the zone's key set.
func (d *dnssecRun) read(ctx context.Context) (*dnssec.KeySet, int64, error) {
	zk, err := d.adm.ReadZoneKeys(ctx, d.zone, false)
	if err != nil {
		return nil, 0, err
	}
	if zk.Public == nil {
		return nil, 0, fmt.Errorf("zone %s has no DNSSEC keys (glbctl dnssec keygen %s makes them)", d.zone, d.zone)
	}
	ks, err := dnssec.DecodeKeySet(store.DNSSECPublicKey(store.KeysPrefix(d.a.g.prefix), d.zone), zk.Public)
	return ks, zk.ModRevision, err
}

// zoneState returns the zone's configuration, which must exist.
func (d *dnssecRun) zoneState(ctx context.Context) (*schema.ZoneState, error) {
	st, err := d.adm.ReadState(ctx)
	if err != nil {
		return nil, err
	}
	z := st.Zones[d.zone]
	if z == nil {
		return nil, fmt.Errorf("zone %s is not configured (no valid %s)", d.zone, schema.ZoneKey(d.a.g.prefix, d.zone))
	}
	return z, nil
}

func (d *dnssecRun) keygen(ctx context.Context, alg uint8, split bool, ttl uint32) error {
	if _, err := d.zoneState(ctx); err != nil {
		return err
	}
	zk, err := d.adm.ReadZoneKeys(ctx, d.zone, false)
	if err != nil {
		return err
	}
	if zk.Public != nil {
		return fmt.Errorf("zone %s has DNSSEC keys already: glbctl dnssec roll %s zsk|ksk replaces them", d.zone, d.zone)
	}
	ks, private, err := dnssec.MakeKeys(d.zone, alg, split, ttl, d.a.now())
	if err != nil {
		return err
	}
	b, err := ks.Encode()
	if err != nil {
		return err
	}
	if err := d.adm.WriteZoneKeys(ctx, d.zone, 0, b, private, nil); err != nil {
		return err
	}
	fmt.Fprintf(d.a.stdout, "zone %s: keys made (algorithm %d, %s)\n\n", d.zone, alg, map[bool]string{false: "one combined signing key", true: "KSK and ZSK"}[split])
	d.printKeys(ks)
	fmt.Fprintln(d.a.stdout, "\nDS records for the parent (glbctl dnssec ds prints them again):")
	d.printDS(ks)
	fmt.Fprintf(d.a.stdout, "\nglbd signs the zone's answers once its zone document has \"dnssec\": {} (check with dig +dnssec);\nadd the DS to the parent only then.\n")
	return nil
}

// show returns a command that reads the key set and prints it.
func (d *dnssecRun) show(print func(*dnssec.KeySet)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ks, _, err := d.read(ctx)
		if err != nil {
			return err
		}
		print(ks)
		return nil
	}
}

// printDS prints the DS records the parent should have, then, as
// comments, those it should no longer have.
func (d *dnssecRun) printDS(ks *dnssec.KeySet) {
	for _, ds := range ks.DS() {
		fmt.Fprintln(d.a.stdout, ds.String())
	}
	for _, r := range ks.Keys {
		if r.State == dnssec.StateDSRetired {
			fmt.Fprintf(d.a.stdout, "; remove from the parent after the next roll step: %s\n", r.Public().ToDS(dns.SHA256).String())
		}
	}
}

// printKeys lists the public facts of each key; never the private one.
func (d *dnssecRun) printKeys(ks *dnssec.KeySet) {
	tw := tabwriter.NewWriter(d.a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tALGORITHM\tROLE\tSTATE\tSINCE")
	for _, r := range ks.Keys {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", r.Tag, ks.Algorithm, r.Role, r.State, r.Since.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	if ks.Roll != nil {
		fmt.Fprintf(d.a.stdout, "%s rollover in progress: step %d of 3 taken at %s\n", ks.Roll.Kind, ks.Roll.Step, ks.Roll.Since.UTC().Format(time.RFC3339))
	}
}

func (d *dnssecRun) roll(ctx context.Context, kind dnssec.Role, dsTTL, propagation time.Duration) error {
	z, err := d.zoneState(ctx)
	if err != nil {
		return err
	}
	ks, rev, err := d.read(ctx)
	if err != nil {
		return err
	}
	ttls := dnssec.TTLs{
		DNSKEY:      time.Duration(ks.DNSKEYTTL) * time.Second,
		MaxZone:     time.Duration(max(maxZoneTTL(z), ks.DNSKEYTTL)) * time.Second,
		DS:          dsTTL,
		Propagation: propagation,
	}
	st, err := dnssec.Next(ks, kind, d.a.now(), ttls, func(r dnssec.Role) (*dnssec.Key, error) {
		return dnssec.GenerateKey(d.zone, ks.Algorithm, r, ks.DNSKEYTTL)
	})
	if errors.Is(err, dnssec.ErrTooEarly) {
		return fmt.Errorf("roll %s of zone %s: %w (the waits: DNSKEY TTL %s, zone's largest TTL %s, DS TTL %s, propagation %s)",
			kind, d.zone, err, ttls.DNSKEY, ttls.MaxZone, ttls.DS, ttls.Propagation)
	}
	if err != nil {
		return err
	}
	b, err := st.Keys.Encode()
	if err != nil {
		return err
	}
	var put map[uint16]string
	if st.New != nil {
		put = map[uint16]string{st.New.Tag(): st.New.PrivateText()}
	}
	if err := d.adm.WriteZoneKeys(ctx, d.zone, rev, b, put, st.Removed); err != nil {
		return err
	}
	fmt.Fprintf(d.a.stdout, "zone %s: %s\n", d.zone, st.Done)
	if st.Then != "" {
		fmt.Fprintf(d.a.stdout, "next: %s\n", st.Then)
	}
	if !st.NextAt.IsZero() {
		fmt.Fprintf(d.a.stdout, "the next step is safe from %s\n", st.NextAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(d.a.stdout)
	d.printKeys(st.Keys)
	return nil
}

// maxZoneTTL returns the largest TTL of the zone's records as glbd serves
// them: SOA and NS, the negative TTL, GSLB names (normal and degraded),
// static records.
func maxZoneTTL(z *schema.ZoneState) uint32 {
	soa := z.Zone.SOA.WithDefaults()
	m := max(soa.TTL, soa.Minimum, z.Zone.TTL, schema.DefaultNameTTL)
	for _, n := range z.Names {
		m = max(m, n.TTL, n.TTLDegraded)
	}
	for _, types := range z.Records {
		for _, r := range types {
			ttl := r.TTL
			if ttl == 0 {
				ttl = schema.DefaultRecordTTL
			}
			m = max(m, ttl)
		}
	}
	return m
}
