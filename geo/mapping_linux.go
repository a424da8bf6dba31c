package geo

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// mapping is a database file mapped read-only into memory. glb maps the
// file itself, rather than letting maxminddb.Open do it, to be able to
// give the pages back: Open's Verify and the partition walk read every
// page of the file once, and those pages would otherwise stay resident
// (and counted in glbd's RSS) for good, although afterwards lookups touch
// only a small part of the tree.
type mapping struct {
	mu   sync.Mutex // orders trim and unmap, so a trim never hits an address reused after the unmap
	data []byte     // nil once unmapped
}

func mapFile(path string) (*mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("file size %d: not a database", size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &mapping{data: data}, nil
}

// trim drops the mapping's pages from the process (MADV_DONTNEED). They
// stay in the page cache, and a later read of a page maps it again (a
// minor fault, no I/O while the kernel keeps it cached), so lookups see
// the same bytes.
func (m *mapping) trim() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data != nil {
		_ = syscall.Madvise(m.data, syscall.MADV_DONTNEED)
	}
}

// unmap releases the mapping; later calls do nothing.
func (m *mapping) unmap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data != nil {
		_ = syscall.Munmap(m.data)
		m.data = nil
	}
}
