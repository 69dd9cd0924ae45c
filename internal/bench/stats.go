package bench

import (
	"math"
	"slices"
	"sort"
	"time"
)

// summarize sorts samples in place, keeps them on r, and sets r's percentiles and maximum.
func summarize(r *Result, samples []time.Duration) {
	slices.Sort(samples)
	r.samples = samples
	r.P50 = percentile(samples, 50)
	r.P95 = percentile(samples, 95)
	r.P99 = percentile(samples, 99)
	if n := len(samples); n > 0 {
		r.Max = samples[n-1]
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest
// sample at least p% of the samples are at or below. It is 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// logEdges returns bucket edges evenly spaced on a log scale, perDecade buckets to a power of
// ten, from the power of ten at or below lo to the one at or above hi. Durations under a
// microsecond count as one.
func logEdges(lo, hi time.Duration, perDecade int) []time.Duration {
	perDecade = max(perDecade, 1)
	lo, hi = max(lo, time.Microsecond), max(hi, time.Microsecond)
	first := math.Floor(math.Log10(float64(lo)))
	last := math.Ceil(math.Log10(float64(hi)))
	if last <= first {
		last = first + 1
	}
	n := int(last-first) * perDecade
	edges := make([]time.Duration, n+1)
	for i := range edges {
		edges[i] = time.Duration(math.Round(math.Pow(10, first+float64(i)/float64(perDecade))))
	}
	return edges
}

// histogram counts samples into the buckets [edges[i], edges[i+1]). Samples below the first
// edge count in the first bucket, samples at or past the last in the last.
func histogram(samples, edges []time.Duration) []int {
	if len(edges) < 2 {
		return nil
	}
	counts := make([]int, len(edges)-1)
	for _, s := range samples {
		i := sort.Search(len(edges), func(i int) bool { return edges[i] > s }) - 1
		counts[min(max(i, 0), len(counts)-1)]++
	}
	return counts
}
