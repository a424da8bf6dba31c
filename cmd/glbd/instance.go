package main

import (
	"os"
	"runtime/debug"
)

// defaultInstance names an instance after its host; in dev mode after its
// DNS address too, since dev instances side by side share the host.
func defaultInstance(c Config) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "glbd"
	}
	if c.Dev {
		return host + " " + c.DNSAddr
	}
	return host
}

// buildVersion is glbd's version as Go recorded it in the binary: the
// module version of a tagged build ("v1.2.3"), else "devel" with the
// commit when built from a checkout.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "devel"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}
