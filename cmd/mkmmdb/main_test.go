package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const (
	csvPath  = "../../testdata/geoip/networks.csv"
	mmdbPath = "../../testdata/geoip/glb-test-city.mmdb"
)

// TestCheckedInDatabaseIsCurrent keeps the CSV and the checked-in database
// from drifting apart: edit the CSV, then regenerate with the command below.
func TestCheckedInDatabaseIsCurrent(t *testing.T) {
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	if err := build(f, &got); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(mmdbPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s (%d bytes) is not what %s builds (%d bytes); regenerate it with\n"+
			"\tgo run ./cmd/mkmmdb -in testdata/geoip/networks.csv -out testdata/geoip/glb-test-city.mmdb",
			mmdbPath, len(want), csvPath, got.Len())
	}
}

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.mmdb")
	if err := run([]string{"-in", csvPath, "-out", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(mmdbPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("run -in/-out wrote different bytes than the checked-in database")
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("output directory has %d entries, want only the output (temporary file left behind?)", len(entries))
	}
}

func TestRunFlagErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.mmdb")
	tests := []struct {
		name string
		args []string
	}{
		{"no out", []string{"-in", csvPath}},
		{"neither mode", []string{"-out", out}},
		{"both modes", []string{"-in", csvPath, "-random", "10", "-out", out}},
		{"missing csv", []string{"-in", "does-not-exist.csv", "-out", out}},
		{"unknown flag", []string{"-bogus"}},
		{"contiguous without random", []string{"-in", csvPath, "-contiguous", "-out", out}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(tc.args, io.Discard); err == nil {
				t.Error("run succeeded, want error")
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output written despite the error")
			}
		})
	}
}

func TestBuildRandomIsDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := buildRandom(2000, seed, &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b, c := gen(7), gen(7), gen(8)
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same bytes")
	}
}
