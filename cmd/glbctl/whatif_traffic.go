package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/glb-dns/glb/server/explain"
)

// trafficQuery checks --admin, --pin and --nets and adds them to q; glbd
// checks them against the configuration (regions, endpoints, CIDRs).
func (w *whatIf) trafficQuery(q url.Values) error {
	for _, s := range w.admin {
		if _, _, ok := explain.CutAdmin(s); !ok {
			return fmt.Errorf("%w: --admin %q: want <region>[/<endpoint>]:<up|down|none>, e.g. eu-west:down", errUsage, s)
		}
		q.Add("admin", s)
	}
	for _, f := range []struct {
		name string
		vals []string
		want string
	}{
		{"pin", w.pin, "<collection>/<location>:<region>[,<region>...], e.g. corp/office:us-east"},
		{"nets", w.nets, "<collection>/<location>:<CIDR or ASN>[,...], e.g. corp/office:81.2.69.0/24,AS64500"},
	} {
		for _, s := range f.vals {
			if _, _, ok := explain.CutList(s); !ok {
				return fmt.Errorf("%w: --%s %q: want %s", errUsage, f.name, s, f.want)
			}
			q.Add(f.name, s)
		}
	}
	return nil
}

// describeTraffic adds --admin, --pin and --nets to e, for simulate's
// header.
func (w *whatIf) describeTraffic(e *explain.WhatIf) {
	for _, s := range w.admin {
		if k, state, ok := explain.CutAdmin(s); ok {
			if e.Admin == nil {
				e.Admin = map[string]string{}
			}
			e.Admin[k] = state
		}
	}
	for _, f := range []struct {
		vals []string
		dst  *map[string][]string
	}{{w.pin, &e.Pins}, {w.nets, &e.Nets}} {
		for _, s := range f.vals {
			if k, list, ok := explain.CutList(s); ok {
				if *f.dst == nil {
					*f.dst = map[string][]string{}
				}
				(*f.dst)[k] = list
			}
		}
	}
}

// repeatFlag is a repeatable flag whose values keep their commas (a pin's
// regions, a location's networks), unlike listFlag.
type repeatFlag []string

func (r *repeatFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatFlag) Set(v string) error {
	*r = append(*r, strings.TrimSpace(v))
	return nil
}
