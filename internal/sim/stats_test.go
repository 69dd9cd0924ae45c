package sim

import (
	"fmt"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		name   string
		ds     []time.Duration
		p      float64
		want   time.Duration
		wantOK bool
	}{
		{"empty", nil, 50, 0, false},
		{"one", []time.Duration{7 * s}, 50, 7 * s, true},
		{"median of odd", []time.Duration{3 * s, 1 * s, 2 * s}, 50, 2 * s, true},
		{"median of even is the lower", []time.Duration{4 * s, 1 * s, 3 * s, 2 * s}, 50, 2 * s, true},
		{"p90 of ten", []time.Duration{10 * s, 9 * s, 8 * s, 7 * s, 6 * s, 5 * s, 4 * s, 3 * s, 2 * s, 1 * s}, 90, 9 * s, true},
		{"p0 is the least", []time.Duration{5 * s, 2 * s, 9 * s}, 0, 2 * s, true},
		{"p100 is the most", []time.Duration{5 * s, 2 * s, 9 * s}, 100, 9 * s, true},
		{"out of range p is clamped", []time.Duration{5 * s, 2 * s, 9 * s}, 250, 9 * s, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := fmt.Sprint(tt.ds)
			got, ok := percentile(tt.ds, tt.p)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("percentile(%v, %v) = %v, %v; want %v, %v", tt.ds, tt.p, got, ok, tt.want, tt.wantOK)
			}
			if after := fmt.Sprint(tt.ds); after != before {
				t.Errorf("percentile reordered its input: %s, was %s", after, before)
			}
		})
	}
}

func TestStatsString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stats Stats
		want  string
	}{
		{
			"nothing delivered",
			Stats{Placed: 3, Accepted: 1, Speed: 10},
			"sim: placed=3 accepted=1 rejected=0 delivered=0 cancelled=0 failed=0 errors=0 click-to-door p50=-",
		},
		{
			"brief's example",
			Stats{
				Placed: 123, Accepted: 120, Rejected: 1, Delivered: 98, Cancelled: 1, Failed: 2, Speed: 10,
				ClickToDoor: []time.Duration{2*time.Minute + 42*time.Second, time.Minute, 5 * time.Minute},
			},
			"sim: placed=123 accepted=120 rejected=1 delivered=98 cancelled=1 failed=2 errors=0 click-to-door p50=27m (sim) / 2m42s (real)",
		},
		{
			"hours and seconds",
			Stats{Delivered: 1, Errors: 4, Speed: 60, ClickToDoor: []time.Duration{65 * time.Second}},
			"sim: placed=0 accepted=0 rejected=0 delivered=1 cancelled=0 failed=0 errors=4 click-to-door p50=1h5m (sim) / 1m5s (real)",
		},
		{
			"under a minute",
			Stats{Delivered: 1, Speed: 1, ClickToDoor: []time.Duration{42*time.Second + 300*time.Millisecond}},
			"sim: placed=0 accepted=0 rejected=0 delivered=1 cancelled=0 failed=0 errors=0 click-to-door p50=42s (sim) / 42s (real)",
		},
		{
			"zero speed counts as real time",
			Stats{Delivered: 1, ClickToDoor: []time.Duration{2 * time.Hour}},
			"sim: placed=0 accepted=0 rejected=0 delivered=1 cancelled=0 failed=0 errors=0 click-to-door p50=2h (sim) / 2h (real)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.stats.String(); got != tt.want {
				t.Errorf("String() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestRecorderKeepsRecentDurations(t *testing.T) {
	t.Parallel()
	r := newRecorder(10)
	for i := range keepDurations + 3 {
		r.clickToDoor(time.Duration(i))
	}
	got := r.snapshot().ClickToDoor
	if len(got) != keepDurations {
		t.Fatalf("kept %d samples, want %d", len(got), keepDurations)
	}
	if got[0] != 3 || got[len(got)-1] != keepDurations+2 {
		t.Errorf("kept %v..%v, want 3..%d oldest first", got[0], got[len(got)-1], keepDurations+2)
	}
}

func TestLedgerCountsEachEndOnce(t *testing.T) {
	t.Parallel()
	s := &Sim{stats: newRecorder(1), ledger: newLedger()}
	now := time.Now()
	s.ledger.placed("o1", "u1", now)
	s.ledger.placed("o2", "u2", now)
	s.finish("o1", statusCancelled)
	s.finish("o1", statusCancelled) // seen again by another actor
	s.finish("o2", statusPaid)      // not an end
	s.finish("o3", statusFailed)    // placed by an earlier run
	s.finish("o3", statusFailed)
	st := s.Stats()
	if st.Cancelled != 1 || st.Failed != 1 {
		t.Errorf("cancelled=%d failed=%d, want 1 and 1", st.Cancelled, st.Failed)
	}
	if due := s.ledger.due(now, 0, 10); len(due) != 1 || due[0].id != "o2" {
		t.Errorf("due = %+v, want only o2 still open", due)
	}
	if due := s.ledger.due(now.Add(time.Second), time.Minute, 10); len(due) != 0 {
		t.Errorf("due right after a check = %+v, want none", due)
	}
}
