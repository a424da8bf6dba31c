package health

import (
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// applyAdmin overrides the probers' verdict with the operator's admin
// states in force at now, for the day the probers are wrong. An endpoint's
// own state wins over its region's (the more specific key), and a region
// forced down is down whatever its endpoints say. An admin state counts as
// data: the region is Checked, so on_no_data does not apply to it.
func applyAdmin(rh *RegionHealth, r *schema.RegionState, now time.Time) {
	region := r.Admin
	if !region.InForce(now) {
		region = nil
	}
	forced := region != nil
	anyUp := false
	for i := range rh.Endpoints {
		ep := &rh.Endpoints[i]
		switch a := r.EndpointAdmin[ep.Endpoint]; {
		case a.InForce(now):
			ep.Up, ep.Admin, ep.AdminUntil = a.State == schema.AdminUp, a.State, a.Until
			forced = true
		case region != nil && region.State == schema.AdminUp:
			ep.Up = true
		}
		anyUp = anyUp || ep.Up
	}
	if !forced {
		return
	}
	rh.Checked = true
	rh.Up = anyUp
	if region != nil {
		rh.Admin, rh.AdminUntil = region.State, region.Until
		if region.State == schema.AdminDown {
			rh.Up = false
		}
	}
}
