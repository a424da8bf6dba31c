package schema

import "fmt"

// DNSSEC is the "dnssec" object of a zone document: present (even empty,
// "dnssec": {}) it says the zone is signed. The keys themselves are not in
// the configuration: they live under the keys prefix (/glb-keys/), made by
// glbctl dnssec keygen (or by dev mode); these fields are what keygen makes
// when it is not told otherwise.
type DNSSEC struct {
	// Algorithm is 13 (ECDSA P-256, the default) or 15 (Ed25519).
	Algorithm uint8 `json:"algorithm,omitempty"`
	// Split asks for a KSK/ZSK pair instead of one combined signing key.
	Split bool `json:"split,omitempty"`
}

// DNSSEC algorithm numbers accepted in a zone document.
const (
	DNSSECECDSAP256 = 13
	DNSSECEd25519   = 15
)

// WithDefaults returns d with the algorithm filled in.
func (d DNSSEC) WithDefaults() DNSSEC {
	if d.Algorithm == 0 {
		d.Algorithm = DNSSECECDSAP256
	}
	return d
}

// Validate checks the algorithm.
func (d *DNSSEC) Validate() error {
	switch d.Algorithm {
	case 0, DNSSECECDSAP256, DNSSECEd25519:
		return nil
	}
	return fmt.Errorf("dnssec.algorithm %d: want %d (ECDSA P-256) or %d (Ed25519)", d.Algorithm, DNSSECECDSAP256, DNSSECEd25519)
}
