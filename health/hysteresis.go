package health

// hysteresis turns check results into a verdict. The verdict starts
// unknown and the first result sets it at once, so that a new target (or a
// prober just started) has health data after one check instead of after
// Rise or Fall of them; reports of an endpoint are absent until then, so
// there is no earlier verdict for a single result to flap. From then on it
// takes Fall consecutive failures to turn down and Rise consecutive
// successes to turn up, as Caddy's passes/fails do.
type hysteresis struct {
	known  bool
	up     bool
	streak int // consecutive results that disagree with the verdict
}

// observe records a result and reports whether the verdict changed
// (including from unknown).
func (h *hysteresis) observe(ok bool, rise, fall int) bool {
	if !h.known {
		h.known, h.up, h.streak = true, ok, 0
		return true
	}
	if ok == h.up {
		h.streak = 0
		return false
	}
	h.streak++
	need := fall
	if ok {
		need = rise
	}
	if h.streak < max(need, 1) {
		return false
	}
	h.up, h.streak = ok, 0
	return true
}
