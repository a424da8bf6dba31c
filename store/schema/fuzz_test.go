package schema

import "testing"

// FuzzDecode feeds arbitrary values to the decoder of every kind of key: it
// must never panic, and a value it accepts must also pass the cross-key
// assembly without panicking.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"lat": 51.5, "lon": -0.1, "addrs": ["198.51.100.10", "2001:db8::1"]}`, "100", "abc", "-5", "5000",
		`{"ns": [{"name": "ns1.example.com", "addrs": ["192.0.2.1"]}]}`, `{"regions": ["eu"], "policy": "geo"}`,
		`{"values": ["10 mail.example.com."]}`, `{"up": true, "rtt": "1ms", "time": "2026-01-01T00:00:00Z"}`,
		`{"lat": 1e400}`, `{"addrs": ["::ffff:1.2.3.4"]}`, "\xff\xfe", `{"a":1}{"b":2}`, "",
	} {
		for k := range kindNames {
			f.Add(uint8(k), s)
		}
	}
	keys := []string{"/glb/regions/eu", "/glb/regions/eu/weight", "/glb/zones/example.com",
		"/glb/zones/example.com/names/www", "/glb/zones/example.com/records/www/MX", "/glb/probers/p1",
		"/glb/health/eu/192.0.2.1/p1", "/glb/nonsense"}
	f.Fuzz(func(t *testing.T, kind uint8, raw string) {
		key := keys[int(kind)%len(keys)]
		b := NewBuilder(DefaultPrefix)
		b.Put("/glb/zones/example.com", []byte(`{"ns": [{"name": "ns1.example.net"}]}`), 1)
		b.Put("/glb/regions/eu", []byte(`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"]}`), 2)
		b.Put(key, []byte(raw), 3)
		st, _ := b.State(3)
		if st == nil {
			t.Fatal("no state")
		}
	})
}
