package server

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestDurationHistogramIsAPrometheusHistogram: observations counted with
// ObserveN export exactly what a client_golang histogram with the same
// buckets exports after the same observations one by one, values on the
// bucket bounds included.
func TestDurationHistogramIsAPrometheusHistogram(t *testing.T) {
	buckets := []float64{5e-6, 1e-5, 2.5e-5, 1e-3}
	for _, tc := range []struct {
		name string
		obs  []struct {
			v float64
			n int
		}
	}{
		{"none", nil},
		{"one batch", []struct {
			v float64
			n int
		}{{7e-6, 8}}},
		{"on the bounds and beyond", []struct {
			v float64
			n int
		}{{5e-6, 3}, {1e-5, 1}, {1e-3, 2}, {2, 5}, {0, 1}, {3e-5, 64}, {4e-6, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours := newDurationHistogram("d", "h", buckets)
			ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "d", Help: "h", Buckets: buckets})
			for _, o := range tc.obs {
				ours.ObserveN(o.v, o.n)
				for range o.n {
					ref.Observe(o.v)
				}
			}
			got, want := collect(t, ours), collect(t, ref)
			// The sums differ in rounding only: n*v against v added n times.
			if got.GetSampleCount() != want.GetSampleCount() || math.Abs(got.GetSampleSum()-want.GetSampleSum()) > 1e-9*want.GetSampleSum() {
				t.Errorf("count, sum = %d, %g; want %d, %g", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
			}
			if len(got.Bucket) != len(want.Bucket) {
				t.Fatalf("%d buckets, want %d", len(got.Bucket), len(want.Bucket))
			}
			for i, b := range want.Bucket {
				if g := got.Bucket[i]; g.GetUpperBound() != b.GetUpperBound() || g.GetCumulativeCount() != b.GetCumulativeCount() {
					t.Errorf("bucket %d: le %g count %d, want le %g count %d", i, g.GetUpperBound(), g.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
				}
			}
		})
	}
}

func collect(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}
