package hours

import (
	"testing"
	"time"
)

func TestOpenAt(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 21, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name string
		d    Daily
		t    time.Time
		want bool
	}{
		{"always", Daily{Opens: 0, Closes: 1440}, at(3, 0), true},
		{"equal means always", Daily{Opens: 600, Closes: 600}, at(3, 0), true},
		{"inside", Daily{Opens: 600, Closes: 1320}, at(12, 0), true},
		{"at opening", Daily{Opens: 600, Closes: 1320}, at(10, 0), true},
		{"at closing", Daily{Opens: 600, Closes: 1320}, at(22, 0), false},
		{"before", Daily{Opens: 600, Closes: 1320}, at(9, 59), false},
		{"past midnight late", Daily{Opens: 1200, Closes: 120}, at(23, 30), true},
		{"past midnight early", Daily{Opens: 1200, Closes: 120}, at(1, 30), true},
		{"past midnight closed", Daily{Opens: 1200, Closes: 120}, at(12, 0), false},
		// 04:00 UTC is 09:30 in Kolkata.
		{"time zone open", Daily{Timezone: "Asia/Kolkata", Opens: 540, Closes: 1380}, at(4, 0), true},
		{"time zone closed", Daily{Timezone: "Asia/Kolkata", Opens: 600, Closes: 1380}, at(4, 0), false},
	}
	for _, tt := range tests {
		if got := tt.d.OpenAt(tt.t); got != tt.want {
			t.Errorf("%s: OpenAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := (Daily{Timezone: "Mars/Olympus"}).Validate(); err == nil {
		t.Error("unknown zone: got nil error")
	}
	if err := (Daily{Opens: -1, Closes: 10}).Validate(); err == nil {
		t.Error("negative minutes: got nil error")
	}
	if err := (Daily{Timezone: "Europe/Paris", Opens: 600, Closes: 1320}).Validate(); err != nil {
		t.Errorf("valid hours: %v", err)
	}
}
