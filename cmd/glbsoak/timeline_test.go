package main

import (
	"testing"
	"time"
)

func TestDrainTimelineViolates(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	d := newDrainTimeline()
	d.drained("eu-west", at(1000))    // drained at 1.0 s
	d.readmitted("eu-west", at(4000)) // re-admitted at 4.0 s
	d.drained("eu-west", at(6000))    // drained again at 6.0 s
	grace := time.Second
	for _, c := range []struct {
		name       string
		region     string
		sent, recv int
		want       bool
	}{
		{"before any drain", "eu-west", 500, 501, false},
		{"within the grace after the drain", "eu-west", 1900, 1901, false},
		{"exactly at the grace", "eu-west", 2000, 2001, true},
		{"well after the drain", "eu-west", 3000, 3001, true},
		{"re-admitted before the answer arrived", "eu-west", 3999, 4000, false},
		{"after the re-admission", "eu-west", 4500, 4501, false},
		{"within the grace of the second drain", "eu-west", 6500, 6501, false},
		{"after the second drain", "eu-west", 7100, 7101, true},
		{"another region", "us-east", 7100, 7101, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := d.violates(c.region, at(c.sent), at(c.recv), grace); got != c.want {
				t.Errorf("violates(%s, sent %d ms, recv %d ms) = %v, want %v", c.region, c.sent, c.recv, got, c.want)
			}
		})
	}
}
