// Package fuzzcorpus writes and checks the seed corpora of the fuzz targets:
// the files under <pkg>/testdata/fuzz/<FuzzName>/ that go test runs as plain
// tests and go test -fuzz starts from. Each package's corpus test builds
// its named entries in code and calls Sync; run it with -update-corpus to
// rewrite the files, without it to check they are still what the code
// makes, so the corpus is reproducible and reviewed as code.
package fuzzcorpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Entry is one corpus file: a descriptive name and the fuzz arguments, in
// the order the fuzz function takes them.
type Entry struct {
	Name string
	Args []any
}

// Encode returns the values in the "go test fuzz v1" file format, for the
// argument types our fuzz targets take.
func Encode(vals ...any) []byte {
	b := bytes.NewBufferString("go test fuzz v1\n")
	for _, v := range vals {
		switch t := v.(type) {
		case []byte:
			fmt.Fprintf(b, "[]byte(%q)\n", t)
		case string:
			fmt.Fprintf(b, "string(%q)\n", t)
		case uint8:
			fmt.Fprintf(b, "byte(%q)\n", t)
		case int, uint16, bool:
			fmt.Fprintf(b, "%T(%v)\n", t, t)
		default:
			panic(fmt.Sprintf("fuzzcorpus: no encoding for %T", v))
		}
	}
	return b.Bytes()
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// Sync writes the entries into dir (update) or checks that each file in
// dir is exactly what its entry encodes. Files without an entry, such as
// crashers go test -fuzz saved and we kept as seeds, are left alone.
func Sync(t testing.TB, dir string, entries []Entry, update bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range entries {
		if !validName.MatchString(e.Name) || seen[e.Name] {
			t.Fatalf("corpus entry name %q: not lower-case words or used twice", e.Name)
		}
		seen[e.Name] = true
	}
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name)
		want := Encode(e.Args...)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("corpus file %s is missing or stale (err %v): run go test -run %s -update-corpus", path, err, t.Name())
		}
	}
	t.Logf("%d corpus entries in %s", len(entries), dir)
}
