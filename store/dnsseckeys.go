package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// KeysPrefix returns where the DNSSEC keys of the configuration under
// prefix live: beside it, never under it (/glb/ gives /glb-keys/), so that
// whatever reads the configuration (glbctl export, the glb-operator role)
// does not read private keys. The layout is in server/dnssec's doc.
// A prefix of "/" has nothing to stand beside: its keys go to /glb-keys/.
func KeysPrefix(prefix string) string {
	if prefix == "/" {
		return "/glb-keys/"
	}
	return strings.TrimSuffix(prefix, "/") + "-keys/"
}

// DNSSECPublicKey returns the key of a zone's key set document.
func DNSSECPublicKey(keysPrefix, zone string) string { return keysPrefix + "public/" + zone }

// DNSSECPrivateKey returns the key of one private key of a zone.
func DNSSECPrivateKey(keysPrefix, zone string, tag uint16) string {
	return keysPrefix + "private/" + zone + "/" + strconv.Itoa(int(tag))
}

// ZoneKeys is what etcd holds about one zone's DNSSEC keys, undecoded
// (server/dnssec decodes it).
type ZoneKeys struct {
	Public      []byte            // the key set document; nil when the zone has none
	ModRevision int64             // of Public; 0 when absent
	Private     map[uint16]string // private key texts by tag, when read with them
}

// ReadZoneKeys reads a zone's key set and, when private is true, its
// private keys, at one revision. Reading private keys needs a credential
// that may read /glb-keys/private/.
func (a *Admin) ReadZoneKeys(ctx context.Context, zone string, private bool) (*ZoneKeys, error) {
	kp := KeysPrefix(a.prefix)
	ops := []clientv3.Op{clientv3.OpGet(DNSSECPublicKey(kp, zone))}
	if private {
		ops = append(ops, clientv3.OpGet(kp+"private/"+zone+"/", clientv3.WithPrefix()))
	}
	resp, err := a.c.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("read dnssec keys of zone %s: %w", zone, err)
	}
	zk := &ZoneKeys{}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		zk.Public, zk.ModRevision = kvs[0].Value, kvs[0].ModRevision
	}
	if private {
		zk.Private = map[uint16]string{}
		for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
			k := string(kv.Key)
			tag, err := strconv.ParseUint(k[strings.LastIndexByte(k, '/')+1:], 10, 16)
			if err != nil {
				return nil, fmt.Errorf("read dnssec keys of zone %s: key %s: not a key tag", zone, k)
			}
			zk.Private[uint16(tag)] = string(kv.Value)
		}
	}
	return zk, nil
}

// WriteZoneKeys writes a zone's key set document, puts and deletes
// private keys, in one transaction that succeeds only if the document's
// mod revision is still ifModRev (0: the zone has no keys yet). The error
// wraps ErrConflict when it changed meanwhile; nothing is written then.
func (a *Admin) WriteZoneKeys(ctx context.Context, zone string, ifModRev int64, public []byte, put map[uint16]string, del []uint16) error {
	kp := KeysPrefix(a.prefix)
	pk := DNSSECPublicKey(kp, zone)
	ops := []clientv3.Op{clientv3.OpPut(pk, string(public))}
	for tag, text := range put {
		ops = append(ops, clientv3.OpPut(DNSSECPrivateKey(kp, zone, tag), text))
	}
	for _, tag := range del {
		ops = append(ops, clientv3.OpDelete(DNSSECPrivateKey(kp, zone, tag)))
	}
	resp, err := a.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(pk), "=", ifModRev)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("write dnssec keys of zone %s: %w", zone, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("write dnssec keys of zone %s: %w (the keys were changed meanwhile; run the command again)", zone, ErrConflict)
	}
	return nil
}
