//go:build race

package version

// raceFlags makes TestLinkerFlags build like the test binary, so that under
// make test (-race) it reuses the packages already compiled for it.
var raceFlags = []string{"-race"}
