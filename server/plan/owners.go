package plan

import (
	"github.com/glb-dns/glb/server/dnswire"
)

// Owners are keyed by the owner name in wire form, lower case: the form a
// query carries it in, so the query path looks a name up straight from the
// packet, with no copy into presentation form and no pass to lower-case it
// (most queries are lower case already). A name that does not match as it
// came takes the slower way (lookupOther).

// indexOwners fills c.Owners and c.zonesWire. A node of a zone that a
// deeper zone encloses is left out: the deeper zone answers for it.
func (c *Config) indexOwners() {
	c.Owners = map[string]Owner{}
	c.zonesWire = make(map[string]*Zone, len(c.Zones))
	s := &Snapshot{Config: c}
	for origin, z := range c.Zones {
		if w, ok := wireOf(origin); ok {
			c.zonesWire[string(w)] = z
		} else {
			c.unindexed = true
		}
		for name, n := range z.Nodes {
			if s.Match(name) != z {
				continue
			}
			// Owner names are checked to be letters, digits, '-' and '_'
			// (schema.CheckDomain), which is what wireOf takes; should
			// one not be, no name is denied without the general path.
			if w, ok := wireOf(name); ok {
				c.Owners[string(w)] = Owner{Zone: z, Node: n}
			} else {
				c.unindexed = true
			}
		}
	}
}

// wireOf is the wire form of name, a lower-case FQDN in presentation form
// of letters, digits, '-' and '_'; false for any other byte (upper case,
// an escape), the root, an empty or over-long label, or a name too long.
func wireOf(name string) ([]byte, bool) {
	w := make([]byte, 0, len(name)+1)
	for len(name) > 0 {
		i := 0
		for i < len(name) && name[i] != '.' {
			i++
		}
		if i == 0 || i > 63 || i == len(name) {
			return nil, false
		}
		w = append(append(w, byte(i)), name[:i]...)
		name = name[i+1:]
	}
	w = append(w, 0)
	return w, len(w) > 1 && len(w) <= dnswire.MaxName && dnswire.CheckName(w) == dnswire.NameLower
}

// LookupWire returns the zone that serves name, in wire form as a query
// carries it (labels of 1 to 63 bytes, no compression, the root label
// last), and the name's node in it (nil: none), without allocating. ok is
// false for a name the fast path leaves to the general one: a label with a
// byte other than letters, digits, '-' and '_', which no owner name has.
func (s *Snapshot) LookupWire(name []byte) (z *Zone, n *Node, ok bool) {
	if o, found := s.Config.Owners[string(name)]; found {
		return o.Zone, o.Node, true
	}
	return s.lookupOther(name)
}

// lookupOther is LookupWire for a name not found as it came: one with a
// byte no owner name has, with upper-case letters, or with no node (its
// zone is matched).
func (s *Snapshot) lookupOther(name []byte) (*Zone, *Node, bool) {
	switch dnswire.CheckName(name) {
	case dnswire.NameOdd:
		return nil, nil, false
	case dnswire.NameUpper:
		return s.lookupFolded(name)
	}
	if s.Config.unindexed {
		return nil, nil, false
	}
	return s.matchWire(name), nil, true
}

// lookupFolded is lookupOther for a name with upper-case letters: the
// lookup again, lower-cased.
func (s *Snapshot) lookupFolded(name []byte) (*Zone, *Node, bool) {
	var buf [dnswire.MaxName + 1]byte
	return s.LookupWire(dnswire.AppendLower(buf[:0], name))
}

// matchWire is Match for a lower-case name in wire form not in Owners:
// the zone of the longest suffix, trying one label fewer each time from
// its parent on (every zone's apex is in Owners, so name is none).
func (s *Snapshot) matchWire(name []byte) *Zone {
	for name = name[1+int(name[0]):]; len(name) > 1; name = name[1+int(name[0]):] {
		if z := s.Config.zonesWire[string(name)]; z != nil {
			return z
		}
	}
	return nil
}
