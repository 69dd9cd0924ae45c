package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackOff(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		tries          int
		base, maxDelay time.Duration
		want           []time.Duration
	}{
		{20, s, 30 * s, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s}},
		{3, s, 30 * s, []time.Duration{s, 2 * s, 4 * s}},
		{1, s, 30 * s, []time.Duration{s}},
		{5, s, s, []time.Duration{s}},
		{5, 300 * time.Millisecond, time.Second, []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, s}},
	}
	for _, tt := range tests {
		c := consumeConfig{tries: tt.tries, baseDelay: tt.base, maxDelay: tt.maxDelay}
		if diff := cmp.Diff(tt.want, c.backOff()); diff != "" {
			t.Errorf("backOff(tries %d, %v..%v) mismatch (-want +got):\n%s", tt.tries, tt.base, tt.maxDelay, diff)
		}
	}
	c := consumeConfig{tries: 20, baseDelay: s, maxDelay: 30 * s}
	for _, tc := range []struct {
		delivered int
		want      time.Duration
	}{
		{0, s}, {1, s}, {2, 2 * s}, {3, 4 * s}, {5, 16 * s}, {6, 30 * s}, {23, 30 * s},
	} {
		if got := c.ackDeadline(tc.delivered); got != tc.want {
			t.Errorf("ackDeadline(%d) = %v, want %v", tc.delivered, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got, want := oneLine("a\r\nb", 100), "a  b"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
	long := strings.Repeat("é", 10) // 2 bytes each
	if got := oneLine(long, 5); got != "éé" {
		t.Errorf("oneLine(%q, 5) = %q, want %q", long, got, "éé")
	}
}

func TestSubjectMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"tiffin.*.order.placed", "tiffin.r1.order.placed", true},
		{"tiffin.*.order.placed", "tiffin.r1.order.paid", false},
		{"tiffin.*.order.placed", "tiffin.r1.order.placed.x", false},
		{"tiffin.*.order.>", "tiffin.r1.order.paid", true},
		{"tiffin.*.order.>", "tiffin.r1.order", false},
		{"tiffin.>", "tiffin.a.b.c", true},
		{"tiffin.r1.order.paid", "tiffin.r1.order.paid", true},
		{"tiffin.*", "tiffin.a.b", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}
