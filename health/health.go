// Package health is glb's view of whether regions work: the checks probers
// run against every endpoint of every region (with rise/fall hysteresis),
// and the pure aggregation that turns many probers' reports into one View
// the server answers from.
package health

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// Target is one endpoint of one region to check.
type Target struct {
	Region   string
	Endpoint netip.Addr
	Check    schema.Check // with defaults applied
}

// Key identifies a target as "<region>/<endpoint>", the end of its health
// key in etcd.
func (t Target) Key() string { return t.Region + "/" + schema.EndpointKey(t.Endpoint) }

// TargetsFromState lists every address of every region that has a check,
// sorted by key. Regions without a check are not probed: they count as up.
func TargetsFromState(st *schema.State) []Target {
	var ts []Target
	for id, r := range st.Regions {
		if r.Region.Check == nil {
			continue
		}
		c := r.Region.Check.WithDefaults()
		for _, a := range r.Region.Addrs {
			ts = append(ts, Target{Region: id, Endpoint: a, Check: c})
		}
	}
	slices.SortFunc(ts, func(a, b Target) int { return cmp.Compare(a.Key(), b.Key()) })
	return ts
}

// Result is the outcome of one check.
type Result struct {
	OK  bool
	RTT time.Duration // to the first response byte (http, https) or the completed connect (tcp)
	Err error         // why the check failed; nil when OK
	// Load is the load read from the response when the check has a load
	// spec and the figure was valid; LoadErr says why it was not.
	Load    *float64
	LoadErr error
}

// Checker runs one check of a target. It returns by the earlier of ctx's
// deadline and the target's timeout.
type Checker interface {
	Check(ctx context.Context, t Target) Result
}

// Publisher stores a prober's verdicts; store.Publisher writes them to etcd
// under the prober's lease. Calls for one endpoint never overlap (the
// Prober runs one loop per endpoint); calls for different endpoints may.
type Publisher interface {
	// Publish records the verdict on one endpoint.
	Publish(ctx context.Context, region, endpoint string, r schema.HealthReport) error
	// Withdraw removes the verdict on an endpoint no longer checked.
	Withdraw(ctx context.Context, region, endpoint string) error
}
