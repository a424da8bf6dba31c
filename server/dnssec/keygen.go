package dnssec

import "time"

// MakeKeys makes a zone's first keys: one combined signing key, or a KSK
// and a ZSK when split, all active since now. It returns the key set and
// the private texts by tag (secret: never log them). glbctl dnssec keygen
// and glbd's dev mode both come through here.
func MakeKeys(zone string, alg uint8, split bool, ttl uint32, now time.Time) (*KeySet, map[uint16]string, error) {
	roles := []Role{RoleCSK}
	if split {
		roles = []Role{RoleKSK, RoleZSK}
	}
	var keys []*Key
	private := map[uint16]string{}
	for len(keys) < len(roles) {
		k, err := GenerateKey(zone, alg, roles[len(keys)], ttl)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := private[k.Tag()]; dup || k.Tag() == 0 {
			continue // draw again: tags name keys
		}
		keys = append(keys, k)
		private[k.Tag()] = k.PrivateText()
	}
	ks := NewKeySet(zone, alg, now, keys...)
	ks.DNSKEYTTL = ttl
	return ks, private, nil
}
