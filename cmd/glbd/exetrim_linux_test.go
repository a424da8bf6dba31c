package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the process's RssFile in kB, from /proc/self/status.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestTrimExecutable: the executable's resident pages (this test binary's)
// leave the process, and the code keeps running from them (what runs
// after the trim faults its pages back in).
func TestTrimExecutable(t *testing.T) {
	before := rssFile(t)
	kB, err := trimExecutable()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("trimmed %d kB; RssFile %d -> %d kB", kB, before, after)
	if kB < 1024 || after >= before-kB/2 {
		t.Errorf("trimmed %d kB, RssFile %d -> %d kB; want over 1 MB given back", kB, before, after)
	}
	// Code and read-only data read back correctly: the flag parser runs
	// from pages just dropped.
	if _, err := parseFlags([]string{"-version"}, func(string) string { return "" }, nil); err != nil {
		t.Errorf("parseFlags after the trim: %v", err)
	}
}
