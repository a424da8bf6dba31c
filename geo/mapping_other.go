//go:build !linux

package geo

import "os"

// mapping holds the database file in memory where glb does not map it
// (glbd runs on Linux; this keeps the package building elsewhere).
type mapping struct{ data []byte }

func mapFile(path string) (*mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &mapping{data: data}, nil
}

func (m *mapping) trim()  {}
func (m *mapping) unmap() {}
