package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKeyValid(t *testing.T) {
	tests := []struct {
		name string
		rest string // key below DefaultPrefix
		want Key
	}{
		{"region", "regions/eu-west", Key{Kind: KindRegion, Region: "eu-west"}},
		{"region with digits underscore dot", "regions/eu_west.2", Key{Kind: KindRegion, Region: "eu_west.2"}},
		{"region starting with digit", "regions/1a", Key{Kind: KindRegion, Region: "1a"}},
		{"region 63 chars", "regions/" + strings.Repeat("a", 63), Key{Kind: KindRegion, Region: strings.Repeat("a", 63)}},
		{"weight", "regions/eu-west/weight", Key{Kind: KindWeight, Region: "eu-west"}},
		{"zone", "zones/gslb.example.com", Key{Kind: KindZone, Zone: "gslb.example.com"}},
		{"single-label zone", "zones/test", Key{Kind: KindZone, Zone: "test"}},
		{"name apex", "zones/gslb.example.com/names/@", Key{Kind: KindName, Zone: "gslb.example.com", Label: "@"}},
		{"name", "zones/gslb.example.com/names/www", Key{Kind: KindName, Zone: "gslb.example.com", Label: "www"}},
		{"name multi-label", "zones/gslb.example.com/names/api.eu", Key{Kind: KindName, Zone: "gslb.example.com", Label: "api.eu"}},
		{"name underscore", "zones/gslb.example.com/names/_svc", Key{Kind: KindName, Zone: "gslb.example.com", Label: "_svc"}},
		{"record A", "zones/gslb.example.com/records/www/A", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "www", Type: "A"}},
		{"record AAAA apex", "zones/gslb.example.com/records/@/AAAA", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "@", Type: "AAAA"}},
		{"record CNAME multi-label", "zones/gslb.example.com/records/api.eu/CNAME", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "api.eu", Type: "CNAME"}},
		{"record TXT", "zones/gslb.example.com/records/@/TXT", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "@", Type: "TXT"}},
		{"record MX", "zones/gslb.example.com/records/@/MX", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "@", Type: "MX"}},
		{"record SRV", "zones/gslb.example.com/records/_sip._tcp/SRV", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "_sip._tcp", Type: "SRV"}},
		{"record CAA", "zones/gslb.example.com/records/@/CAA", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "@", Type: "CAA"}},
		{"record PTR", "zones/gslb.example.com/records/x/PTR", Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "x", Type: "PTR"}},
		{"prober", "probers/fra-1", Key{Kind: KindProber, Prober: "fra-1"}},
		{"health IPv4", "health/fra-1/eu-west/192.0.2.10", Key{Kind: KindHealth, Region: "eu-west", Endpoint: "192.0.2.10", Prober: "fra-1"}},
		{"health IPv6", "health/fra-1/eu-west/2001:db8::10", Key{Kind: KindHealth, Region: "eu-west", Endpoint: "2001:db8::10", Prober: "fra-1"}},
		{"health prober id with dots", "health/fra.1/eu-west/192.0.2.10", Key{Kind: KindHealth, Region: "eu-west", Endpoint: "192.0.2.10", Prober: "fra.1"}},
		{"health prober id an IPv4 address", "health/10.0.0.1/eu-west/192.0.2.10", Key{Kind: KindHealth, Region: "eu-west", Endpoint: "192.0.2.10", Prober: "10.0.0.1"}},
		{"legacy health IPv4", "health/eu-west/192.0.2.10/fra-1", Key{Kind: KindHealth, Legacy: true, Region: "eu-west", Endpoint: "192.0.2.10", Prober: "fra-1"}},
		{"legacy health IPv6", "health/eu-west/2001:db8::10/fra-1", Key{Kind: KindHealth, Legacy: true, Region: "eu-west", Endpoint: "2001:db8::10", Prober: "fra-1"}},
		{"legacy health region id an IPv4 address", "health/10.0.0.1/192.0.2.10/fra-1", Key{Kind: KindHealth, Legacy: true, Region: "10.0.0.1", Endpoint: "192.0.2.10", Prober: "fra-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(DefaultPrefix, DefaultPrefix+tc.rest)
			if err != nil {
				t.Fatalf("ParseKey(%q) error: %v", tc.rest, err)
			}
			if got != tc.want {
				t.Fatalf("ParseKey(%q) = %+v, want %+v", tc.rest, got, tc.want)
			}
			if s := got.String(); s != tc.rest {
				t.Fatalf("String() = %q, want %q", s, tc.rest)
			}
			// Round trip: parsing the rebuilt key gives the same Key.
			again, err := ParseKey(DefaultPrefix, DefaultPrefix+got.String())
			if err != nil || again != got {
				t.Fatalf("round trip: %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestParseKeyCustomPrefix(t *testing.T) {
	tests := []struct {
		name, prefix, key string
		want              Key
		wantErr           bool
	}{
		{"custom prefix", "/x/glb/", "/x/glb/regions/us", Key{Kind: KindRegion, Region: "us"}, false},
		{"default prefix key under custom prefix", "/x/glb/", "/glb/regions/us", Key{}, true},
		{"empty prefix", "", "regions/us", Key{Kind: KindRegion, Region: "us"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.prefix, tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseKey(%q, %q) error = %v, wantErr %v", tc.prefix, tc.key, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseKey(%q, %q) = %+v, want %+v", tc.prefix, tc.key, got, tc.want)
			}
		})
	}
}

func TestParseKeyInvalid(t *testing.T) {
	tests := []struct {
		name      string
		key       string // full key
		badLayout bool   // errors.Is(err, ErrBadKey) wanted
		wantMsg   string // substring of the error, if set
	}{
		// Unknown layouts and keys outside the contract.
		{"outside prefix", "/other/regions/eu", true, "outside prefix"},
		{"prefix without slash", "/glbregions/eu", true, "outside prefix"},
		{"non-UTF-8", "/glb/regions/eu\xff", true, "UTF-8"},
		{"prefix only", "/glb/", true, "unknown key layout"},
		{"unknown top level", "/glb/foo/bar", true, "unknown key layout"},
		{"regions alone", "/glb/regions", true, "unknown key layout"},
		{"region extra segment", "/glb/regions/eu/weight/x", true, "unknown key layout"},
		{"region unknown sub key", "/glb/regions/eu/drain", true, "unknown key layout"},
		{"region trailing slash", "/glb/regions/eu/", true, "unknown key layout"},
		{"double slash after prefix", "/glb//regions/eu", true, "unknown key layout"},
		{"zone unknown sub key", "/glb/zones/example.com/foo/www", true, "unknown key layout"},
		{"name extra segment", "/glb/zones/example.com/names/www/x", true, "unknown key layout"},
		{"record without type", "/glb/zones/example.com/records/www", true, "unknown key layout"},
		{"record extra segment", "/glb/zones/example.com/records/www/A/x", true, "unknown key layout"},
		{"prober extra segment", "/glb/probers/p1/x", true, "unknown key layout"},
		{"health missing prober", "/glb/health/eu/192.0.2.1", true, "unknown key layout"},
		{"health extra segment", "/glb/health/eu/192.0.2.1/p1/x", true, "unknown key layout"},

		// Known layouts with a bad part: a clear error naming the part.
		{"empty region in weight", "/glb/regions//weight", false, "region id"},
		{"empty region", "/glb/regions/", false, "region id"},
		{"region upper case", "/glb/regions/EU-west", false, "region id \"EU-west\""},
		{"region space", "/glb/regions/eu west", false, "region id \"eu west\""},
		{"region leading dash", "/glb/regions/-eu", false, "starting with a letter or digit"},
		{"region leading dot", "/glb/regions/.eu", false, "starting with a letter or digit"},
		{"region non-ASCII", "/glb/regions/eü", false, "region id"},
		{"region 64 chars", "/glb/regions/" + strings.Repeat("a", 64), false, "1 to 63 characters"},
		{"weight region upper case", "/glb/regions/EU/weight", false, "region id \"EU\""},
		{"zone upper case", "/glb/zones/Example.com", false, "lower case"},
		{"zone trailing dot", "/glb/zones/example.com.", false, "trailing dot"},
		{"zone empty", "/glb/zones/", false, "zone"},
		{"zone empty label", "/glb/zones/example..com", false, "empty or over-long label"},
		{"zone bad char", "/glb/zones/exa mple.com", false, "character"},
		{"zone leading dash", "/glb/zones/-example.com", false, "'-'"},
		{"name zone upper case", "/glb/zones/Example.com/names/www", false, "lower case"},
		{"name empty label", "/glb/zones/example.com/names/", false, "label"},
		{"name wildcard", "/glb/zones/example.com/names/*", false, "wildcard"},
		{"name wildcard multi-label", "/glb/zones/example.com/names/*.eu", false, "wildcard"},
		{"name label upper case", "/glb/zones/example.com/names/WWW", false, "lower case"},
		{"name label trailing dot", "/glb/zones/example.com/names/www.", false, "trailing dot"},
		{"name label @ in multi-label", "/glb/zones/example.com/names/@.eu", false, "character"},
		{"name label 64 chars", "/glb/zones/example.com/names/" + strings.Repeat("a", 64), false, "over-long"},
		{"record type NS", "/glb/zones/example.com/records/www/NS", false, "record type \"NS\" is not supported"},
		{"record type SOA", "/glb/zones/example.com/records/@/SOA", false, "record type \"SOA\" is not supported"},
		{"record type lower case", "/glb/zones/example.com/records/www/a", false, "record type \"a\" is not supported"},
		{"record type empty", "/glb/zones/example.com/records/www/", false, "record type"},
		{"record wildcard", "/glb/zones/example.com/records/*/A", false, "wildcard"},
		{"record zone trailing dot", "/glb/zones/example.com./records/www/A", false, "trailing dot"},
		{"prober upper case", "/glb/probers/FRA", false, "prober id"},
		{"prober empty", "/glb/probers/", false, "prober id"},
		{"health region bad", "/glb/health/EU/192.0.2.1/p1", false, "region id"},
		{"health endpoint empty", "/glb/health/eu//p1", false, "endpoint"},
		{"health endpoint space", "/glb/health/eu/192.0.2.1 x/p1", false, "endpoint"},
		{"health prober bad", "/glb/health/eu/192.0.2.1/-p", false, "prober id"},
		{"per-prober health prober bad", "/glb/health/-p/eu/192.0.2.1", false, "prober id"},
		{"per-prober health region bad", "/glb/health/p1/EU/192.0.2.1", false, "region id"},
		{"per-prober health endpoint not canonical", "/glb/health/p1/eu/2001:DB8::1", false, "canonical form"},
		{"health legacy prober id an IPv4 address", "/glb/health/eu/192.0.2.1/10.0.0.1", false, "ambiguous"},
		{"health per-prober region id an IPv4 address", "/glb/health/p1/10.0.0.1/192.0.2.1", false, "ambiguous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(DefaultPrefix, tc.key)
			if err == nil {
				t.Fatalf("ParseKey(%q) = %+v, want error", tc.key, k)
			}
			// Every bad key wraps ErrBadKey, whether its layout is unknown or
			// one of its parts is malformed.
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("errors.Is(%v, ErrBadKey) = false, want true", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			// A known layout with a bad part keeps its kind, so the rejection
			// says which part of the schema the key was meant for.
			if gotKind := k.Kind != KindUnknown; gotKind == tc.badLayout {
				t.Errorf("ParseKey(%q) kind %s, want known kind = %v", tc.key, k.Kind, !tc.badLayout)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{KindUnknown, "unknown"},
		{KindRegion, "region"},
		{KindWeight, "weight"},
		{KindZone, "zone"},
		{KindName, "name"},
		{KindRecord, "record"},
		{KindProber, "prober"},
		{KindHealth, "health"},
		{Kind(99), "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.want {
				t.Fatalf("Kind(%d).String() = %q, want %q", tc.kind, got, tc.want)
			}
		})
	}
}

func TestKeyBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want Key
	}{
		{"RegionKey", RegionKey(DefaultPrefix, "eu"), Key{Kind: KindRegion, Region: "eu"}},
		{"WeightKey", WeightKey(DefaultPrefix, "eu"), Key{Kind: KindWeight, Region: "eu"}},
		{"ZoneKey", ZoneKey(DefaultPrefix, "example.com"), Key{Kind: KindZone, Zone: "example.com"}},
		{"NameKey", NameKey(DefaultPrefix, "example.com", "@"), Key{Kind: KindName, Zone: "example.com", Label: "@"}},
		{"RecordKey", RecordKey(DefaultPrefix, "example.com", "api.eu", "TXT"), Key{Kind: KindRecord, Zone: "example.com", Label: "api.eu", Type: "TXT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(DefaultPrefix, tc.got)
			if err != nil || k != tc.want {
				t.Fatalf("ParseKey(%q) = %+v, %v; want %+v", tc.got, k, err, tc.want)
			}
			if DefaultPrefix+k.String() != tc.got {
				t.Fatalf("String() = %q, want %q", k.String(), tc.got)
			}
		})
	}
}

func TestKeyStringUnknown(t *testing.T) {
	if s := (Key{}).String(); s != "" {
		t.Fatalf("Key{}.String() = %q, want empty", s)
	}
}

func TestOwner(t *testing.T) {
	tests := []struct {
		name, zone, label, want string
	}{
		{"apex", "example.com", "@", "example.com."},
		{"label", "example.com", "www", "www.example.com."},
		{"multi-label", "example.com", "api.eu", "api.eu.example.com."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Owner(tc.zone, tc.label); got != tc.want {
				t.Fatalf("Owner(%q, %q) = %q, want %q", tc.zone, tc.label, got, tc.want)
			}
		})
	}
}

func TestCheckDomain(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"plain", "example.com", false},
		{"trailing dot", "example.com.", false},
		{"upper case allowed", "NS1.Example.com", false},
		{"underscore", "_dmarc.example.com", false},
		{"63-byte label", strings.Repeat("a", 63) + ".com", false},
		{"253 bytes", strings.Repeat("a.", 126) + "a", false},
		{"empty", "", true},
		{"root", ".", true},
		{"64-byte label", strings.Repeat("a", 64) + ".com", true},
		{"254 bytes", "ab." + strings.Repeat("a.", 125) + "a", true},
		{"empty label", "a..com", true},
		{"leading dot", ".example.com", true},
		{"label starts with dash", "-a.com", true},
		{"label ends with dash", "a-.com", true},
		{"space", "a b.com", true},
		{"at sign", "a@b.com", true},
		{"non-ASCII", "ä.com", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDomain(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckDomain(%q) = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
		})
	}
}
