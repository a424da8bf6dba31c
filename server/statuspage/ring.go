package statuspage

import (
	"maps"
	"slices"
	"time"
)

// answerBucket is the answers given per region between two samples.
type answerBucket struct {
	Start, End time.Time
	Answers    map[string]int64 // by region; regions with no answers are absent
}

// total returns the answers of all regions in the bucket.
func (b answerBucket) total() int64 {
	var n int64
	for _, v := range b.Answers {
		n += v
	}
	return n
}

// answerRing keeps the per-interval deltas of the answer counters, oldest
// first. It holds deltas rather than raw samples, so that only the previous
// sample's counters are kept, and it is bounded twice: by age (answerWindow)
// and by count (answerRingSize), the latter for a clock that steps back.
type answerRing struct {
	last    time.Time         // time of the previous good sample
	prev    map[string]uint64 // its answers by region; nil before the first sample
	buckets []answerBucket
	err     string // the last sampling error; cleared by a good sample
}

// add records a sample taken at now. The first sample is only the baseline:
// answers counted before glbd sampled belong to no interval.
func (r *answerRing) add(now time.Time, cur map[string]uint64) {
	r.err = ""
	if r.prev != nil && now.After(r.last) {
		b := answerBucket{Start: r.last, End: now, Answers: map[string]int64{}}
		for region, v := range cur {
			d := v - r.prev[region] // a region new since the last sample started at 0
			if v < r.prev[region] {
				d = v // reset (the counter started again)
			}
			if d > 0 {
				b.Answers[region] += int64(d)
			}
		}
		r.buckets = append(r.buckets, b)
	}
	r.prev, r.last = cur, now
	r.trim(now)
}

// fail records a lost sample. The previous counters stay the baseline, so
// the next good sample's bucket spans the gap instead of losing its answers.
func (r *answerRing) fail(now time.Time, err error) {
	r.err = err.Error()
	r.trim(now)
}

// trim drops buckets that started before the window or exceed the count.
func (r *answerRing) trim(now time.Time) {
	from := now.Add(-answerWindow)
	cut := max(0, len(r.buckets)-answerRingSize)
	for cut < len(r.buckets) && r.buckets[cut].Start.Before(from) {
		cut++
	}
	r.buckets = slices.Delete(r.buckets, 0, cut)
}

// within returns a copy of the buckets inside the window ending at now.
func (r *answerRing) within(now time.Time) []answerBucket {
	from := now.Add(-answerWindow)
	var out []answerBucket
	for _, b := range r.buckets {
		if !b.Start.Before(from) && !b.End.After(now) {
			out = append(out, answerBucket{Start: b.Start, End: b.End, Answers: maps.Clone(b.Answers)})
		}
	}
	return out
}

// answerRegions returns every region with answers in buckets, sorted.
func answerRegions(buckets []answerBucket) []string {
	seen := map[string]bool{}
	for _, b := range buckets {
		for r := range b.Answers {
			seen[r] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
