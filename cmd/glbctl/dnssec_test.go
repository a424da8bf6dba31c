package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/store"
)

const testZone = "gslb.example.test"

// ctlAt runs glbctl with its clock at now.
func ctlAt(t *testing.T, env map[string]string, now time.Time, args ...string) result {
	t.Helper()
	a, out, errOut := newTestApp(env)
	a.now = func() time.Time { return now }
	return runApp(t, a, out, errOut, args...)
}

// zoneKeysIn reads the zone's keys from etcd as glbd will, private keys
// included, and signs an answer with them: the keys glbctl wrote are
// usable, and the signature verifies against the published DNSKEY RRset.
func zoneKeysIn(t *testing.T, s *etcdFixture, now time.Time) (*dnssec.KeySet, map[uint16]string) {
	t.Helper()
	zk, err := s.adm.ReadZoneKeys(t.Context(), testZone, true)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := dnssec.DecodeKeySet("etcd", zk.Public)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dnssec.NewSigner(ks, zk.Private, dnssec.SignerConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("keys in etcd: %v", err)
	}
	a, _ := dns.NewRR("www.gslb.example.test. 30 IN A 192.0.2.10")
	sig, _, err := signer.Sign([]dns.RR{a})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range signer.DNSKEY() {
		if k.(*dns.DNSKEY).KeyTag() == sig.KeyTag {
			if err := sig.Verify(k.(*dns.DNSKEY), []dns.RR{a}); err != nil {
				t.Fatalf("signature with the keys in etcd: %v", err)
			}
			return ks, zk.Private
		}
	}
	t.Fatalf("signing key %d not in the DNSKEY RRset", sig.KeyTag)
	return nil, nil
}

// TestDNSSECCommands makes a zone's keys, shows them and their DS, walks a
// ZSK rollover and starts a KSK one against a real etcd: premature steps
// are refused with the time they become safe and change nothing, private
// keys are never printed nor exported, and the keys in etcd sign answers
// that verify at every step.
func TestDNSSECCommands(t *testing.T) {
	s, env := devEtcd(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	r := ctlAt(t, env, t0, "dnssec", "keygen", testZone, "--split", "--algorithm", "15")
	if r.code != exitOK || !strings.Contains(r.stdout, "KSK and ZSK") || !strings.Contains(r.stdout, "IN\tDS\t") {
		t.Fatalf("keygen: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ks, priv := zoneKeysIn(t, s, t0)
	if len(ks.Keys) != 2 || len(priv) != 2 || ks.Algorithm != dnssec.AlgEd25519 {
		t.Fatalf("after keygen: %d keys, %d private, algorithm %d", len(ks.Keys), len(priv), ks.Algorithm)
	}
	noSecrets := func(what, out string) {
		t.Helper()
		for _, p := range priv {
			if strings.Contains(out, "PrivateKey") || strings.Contains(out, strings.Fields(p)[len(strings.Fields(p))-1]) {
				t.Errorf("%s shows a private key:\n%s", what, out)
			}
		}
	}
	noSecrets("keygen", r.stdout)

	if r := ctlAt(t, env, t0, "dnssec", "keygen", testZone); r.code != exitFailure || !strings.Contains(r.stderr, "has DNSSEC keys already") {
		t.Errorf("second keygen: exit %d, stderr %q", r.code, r.stderr)
	}
	keys := ctl(t, env, "dnssec", "keys", testZone)
	for _, rec := range ks.Keys {
		want := strings.Join([]string{itoa(rec.Tag), "15", string(rec.Role), "active", "2026-03-01T12:00:00Z"}, " ")
		if !slices.ContainsFunc(strings.Split(keys.stdout, "\n"), func(l string) bool { return strings.Join(strings.Fields(l), " ") == want }) {
			t.Errorf("keys lacks the line %q:\n%s", want, keys.stdout)
		}
	}
	noSecrets("keys", keys.stdout)
	ds := ctl(t, env, "dnssec", "ds", testZone)
	if want := ks.DS()[0].String() + "\n"; ds.code != exitOK || ds.stdout != want {
		t.Errorf("ds: exit %d\n%s; want\n%s", ds.code, ds.stdout, want)
	}
	exp := ctl(t, env, "export")
	if exp.code != exitOK || strings.Contains(exp.stdout, "keys") || strings.Contains(exp.stdout, "dnskey") {
		t.Errorf("export shows DNSSEC keys (exit %d):\n%s", exp.code, exp.stdout)
	}
	noSecrets("export", exp.stdout)

	// ZSK rollover: the dev zone's largest TTL is its SOA's 3600 s, the
	// DNSKEY TTL 3600 s, the margin 10 minutes.
	oldZSK := ks.Keys[1].Tag
	wait := time.Hour + 10*time.Minute
	now := t0.Add(time.Minute)
	for step := 1; step <= 3; step++ {
		if step > 1 {
			before := s.Get(t, store.DNSSECPublicKey("/glb-keys/", testZone))
			early := ctlAt(t, env, now.Add(wait-time.Second), "dnssec", "roll", testZone, "zsk")
			safe := now.Add(wait).UTC().Format(time.RFC3339)
			if early.code != exitFailure || !strings.Contains(early.stderr, "not safe yet") || !strings.Contains(early.stderr, "safe from "+safe) {
				t.Errorf("step %d a second early: exit %d, stderr %q; want refused, safe from %s", step, early.code, early.stderr, safe)
			}
			if after := s.Get(t, store.DNSSECPublicKey("/glb-keys/", testZone)); after != before {
				t.Errorf("refused step %d changed the keys", step)
			}
			now = now.Add(wait)
		}
		r := ctlAt(t, env, now, "dnssec", "roll", testZone, "zsk")
		if r.code != exitOK || !strings.Contains(r.stdout, "step "+itoa(uint16(step))+" of 3") {
			t.Fatalf("roll step %d: exit %d\n%s%s", step, r.code, r.stdout, r.stderr)
		}
		noSecrets("roll", r.stdout)
		ks, priv = zoneKeysIn(t, s, now)
	}
	if ks.Roll != nil || len(ks.Keys) != 2 || ks.Keys[1].Tag == oldZSK {
		t.Errorf("after the ZSK roll: %+v", ks.Keys)
	}
	if _, ok := priv[oldZSK]; ok {
		t.Error("the old ZSK's private key is still in etcd")
	}

	// KSK double-DS, first step: two DS for the parent, the new KSK not
	// yet in the DNSKEY RRset; a ZSK roll meanwhile is refused.
	r = ctlAt(t, env, now, "dnssec", "roll", testZone, "ksk", "--ds-ttl", "1h")
	if r.code != exitOK || !strings.Contains(r.stdout, "ds-published") || !strings.Contains(r.stdout, "add the new DS to the parent") {
		t.Fatalf("roll ksk: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ds := ctl(t, env, "dnssec", "ds", testZone); strings.Count(ds.stdout, "\tDS\t") != 2 {
		t.Errorf("ds during a KSK roll:\n%s", ds.stdout)
	}
	if r := ctlAt(t, env, now.Add(48*time.Hour), "dnssec", "roll", testZone, "zsk"); r.code != exitFailure || !strings.Contains(r.stderr, "ksk rollover is in progress") {
		t.Errorf("zsk roll during a ksk roll: exit %d, stderr %q", r.code, r.stderr)
	}
	zoneKeysIn(t, s, now)
}

// TestDNSSECErrors checks refusals: unknown zone, no keys, a corrupt key
// set in etcd (named in the error), bad command lines.
func TestDNSSECErrors(t *testing.T) {
	s, env := devEtcd(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no zone", []string{"dnssec", "keys"}, exitUsage, "want 'dnssec keygen|ds|keys|roll <zone>'"},
		{"upper case", []string{"dnssec", "keys", "GSLB.example.test"}, exitUsage, "lower-case domain name"},
		{"unknown subcommand", []string{"dnssec", "sign", testZone}, exitUsage, `unknown dnssec command "sign"`},
		{"bad algorithm", []string{"dnssec", "keygen", testZone, "--algorithm", "8"}, exitUsage, "--algorithm 8"},
		{"roll what", []string{"dnssec", "roll", testZone, "csk"}, exitUsage, `roll "csk": want zsk or ksk`},
		{"roll without kind", []string{"dnssec", "roll", testZone}, exitUsage, "takes 2 argument(s)"},
		{"zone not configured", []string{"dnssec", "keygen", "other.example"}, exitFailure, "zone other.example is not configured"},
		{"no keys", []string{"dnssec", "ds", testZone}, exitFailure, "has no DNSSEC keys (glbctl dnssec keygen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ctl(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
	s.Put(t, "/glb-keys/public/"+testZone, `{"zone": "gslb.example.test.", "algorithm": 13, "dnskey_ttl": 3600, "keys": []}`)
	if r := ctl(t, env, "dnssec", "keys", testZone); r.code != exitFailure || !strings.Contains(r.stderr, "/glb-keys/public/gslb.example.test: 0 active keys") {
		t.Errorf("corrupt key set: exit %d, stderr %q", r.code, r.stderr)
	}
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }

// TestDNSSECRoles runs the dnssec commands with etcd's authentication on,
// as glb-operator: it makes and rolls keys, yet cannot read a private key;
// glb-reader (glbd) can, and cannot change them.
func TestDNSSECRoles(t *testing.T) {
	s, env := devEtcd(t)
	pw := writeFile(t, "passwords", "glb-reader:r-pw\nglb-operator:o-pw\n")
	if r := ctl(t, env, "rbac", "apply", "--password-file", pw); r.code != exitOK {
		t.Fatalf("rbac apply: exit %d, %s", r.code, r.stderr)
	}
	s.EnableAuth(t, "root-pw")
	op := s.UserClient(t, "glb-operator", "o-pw")
	dnssecAdmin = func(a *app) (*store.Admin, func(), error) { return store.NewAdmin(op, a.g.prefix), func() {}, nil }
	t.Cleanup(func() { dnssecAdmin = (*app).admin })

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, args := range [][]string{
		{"dnssec", "keygen", testZone, "--split"},
		{"dnssec", "keys", testZone},
		{"dnssec", "ds", testZone},
		{"dnssec", "roll", testZone, "zsk"},
	} {
		if r := ctlAt(t, env, t0, args...); r.code != exitOK {
			t.Fatalf("%v as operator: exit %d, %s", args, r.code, r.stderr)
		}
	}
	if _, err := store.NewAdmin(op, "/glb/").ReadZoneKeys(t.Context(), testZone, true); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("operator reading private keys: %v; want permission denied", err)
	}
	reader := store.NewAdmin(s.UserClient(t, "glb-reader", "r-pw"), "/glb/")
	zk, err := reader.ReadZoneKeys(t.Context(), testZone, true)
	if err != nil || len(zk.Private) != 3 {
		t.Fatalf("reader reading the keys: %v, %d private keys; want 3", err, len(zk.Private))
	}
	if err := reader.WriteZoneKeys(t.Context(), testZone, zk.ModRevision, zk.Public, nil, nil); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("reader writing the key set: %v; want permission denied", err)
	}
}
