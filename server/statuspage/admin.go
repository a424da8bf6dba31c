package statuspage

import "time"

// adminNote says that an admin state, not the probers, decides: "admin
// down", "admin down until 2026-12-06T08:00:00Z".
func adminNote(state string, until time.Time) string {
	if until.IsZero() {
		return "admin " + state
	}
	return "admin " + state + " until " + until.UTC().Format(time.RFC3339)
}

// rfc3339 is t in RFC 3339, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
