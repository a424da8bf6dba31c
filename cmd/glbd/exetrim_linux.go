package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// trimExecutable drops the resident pages of the executable's read-only
// mappings (code, read-only data) from the process with MADV_DONTNEED and
// returns how many kB were resident in them. Only mappings without a page
// of their own (no Anonymous pages, which is where a private mapping's
// written pages go: nothing was written to them, not even relocations)
// are touched, so that every page dropped is read back as it was from the
// file. Private_Dirty does not matter: a binary just written (go test's)
// is dirty in the page cache, which keeps it.
func trimExecutable() (kB int, err error) {
	exe, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	ino := exe.Sys().(*syscall.Stat_t).Ino
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	type mapping struct {
		start, end uintptr
		ok         bool // read-only, the executable's, nothing of its own
		rss        int
	}
	var maps []mapping
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			// A mapping's header: range perms offset dev inode [path].
			lo, hi, _ := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			inode, err3 := strconv.ParseUint(f[4], 10, 64)
			readOnly := f[1] == "r-xp" || f[1] == "r--p"
			maps = append(maps, mapping{start: uintptr(start), end: uintptr(end),
				ok: err1 == nil && err2 == nil && err3 == nil && readOnly && inode == ino})
			continue
		}
		if len(maps) == 0 || len(f) < 2 {
			continue
		}
		m := &maps[len(maps)-1]
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			m.rss = n
		case "Anonymous:":
			if n != 0 {
				m.ok = false
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	for _, m := range maps {
		if !m.ok || m.rss == 0 {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); e != 0 {
			return kB, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, e)
		}
		kB += m.rss
	}
	return kB, nil
}
