package schema

import (
	"strings"
	"testing"
)

// TestNameTier: the tier field reads "nearest" or an object whose missing
// fields take the defaults (ms following km), and refuses anything else.
func TestNameTier(t *testing.T) {
	cases := []struct {
		tier string
		want Tier
		err  string
	}{
		{tier: `"nearest"`, want: Tier{Nearest: true}},
		{tier: `{}`, want: DefaultTier},
		{tier: `{"km": 0, "pct": 0}`, want: Tier{}},
		{tier: `{"km": 500}`, want: Tier{Km: 500, Pct: 10, Ms: 7.5}},
		{tier: `{"pct": 25, "ms": 4}`, want: Tier{Km: 100, Pct: 25, Ms: 4}},
		{tier: `"closest"`, err: `want "nearest" or an object`},
		{tier: `{"kms": 5}`, err: `unknown field "kms"`},
		{tier: `{"km": -1}`, err: "tier.km -1 is outside"},
		{tier: `{"pct": 5000}`, err: "tier.pct 5000 is outside"},
		{tier: `7`, err: "tier"},
	}
	for _, tc := range cases {
		t.Run(tc.tier, func(t *testing.T) {
			v, err := Decode(Key{Kind: KindName}, []byte(`{"regions": ["eu-west"], "tier": `+tc.tier+`}`))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := *v.(*Name).Tier; got != tc.want {
				t.Errorf("tier %+v, want %+v", got, tc.want)
			}
		})
	}
}
