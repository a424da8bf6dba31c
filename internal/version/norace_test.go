//go:build !race

package version

// raceFlags: see race_test.go.
var raceFlags []string
