package explain

import (
	"strings"

	"github.com/glb-dns/glb/store/schema"
)

// None, as a what-if admin state, pin or location, drops it.
const None = "none"

// CutAdmin splits an admin what-if, "<region>[/<endpoint>]:<state>", at
// the colon before the state: endpoint addresses (IPv6) and expiry times
// hold colons too, but no address holds ":up", ":down" or ":none"
// followed by a valid state. glbd and glbctl share it.
func CutAdmin(s string) (key, state string, ok bool) {
	for i := 1; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		rest := s[i+1:]
		if _, err := schema.ParseAdmin([]byte(rest)); err == nil || rest == None {
			return s[:i], rest, true
		}
	}
	return "", "", false
}

// CutList splits a pin or nets what-if, "<collection>/<location>:<a>,<b>",
// into the location's key and the list.
func CutList(s string) (key string, list []string, ok bool) {
	key, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return "", nil, false
	}
	coll, loc, ok := strings.Cut(key, "/")
	if !ok || coll == "" || loc == "" {
		return "", nil, false
	}
	return key, strings.Split(rest, ","), true
}
