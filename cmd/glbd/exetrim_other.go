//go:build !linux

package main

import "github.com/glb-dns/glb/geo"

// trimmingGeo is the GeoIP database as the server sees it; only Linux
// also gives back the executable's pages (exetrim_linux.go).
type trimmingGeo struct{ *geo.DB }

// trimExecutable does nothing here.
func trimExecutable() (kB int, err error) { return 0, nil }
