package bus

import (
	"strings"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	c := consumeConfig{baseDelay: time.Second, maxDelay: 30 * time.Second}
	for _, tc := range []struct {
		delivered int
		want      time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {100, 30 * time.Second},
	} {
		if got := c.retryDelay(tc.delivered); got != tc.want {
			t.Errorf("retryDelay(%d) = %v, want %v", tc.delivered, got, tc.want)
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
