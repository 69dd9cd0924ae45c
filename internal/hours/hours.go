// Package hours says whether a place with daily opening hours in a time zone is open at a given
// instant. Catalog shows it to browsers; orders refuses checkout at a closed restaurant.
package hours

import (
	"fmt"
	"time"
)

// Daily is a daily opening window in minutes after local midnight. Closes before Opens means
// the window runs past midnight; Opens == Closes, or 0 to 1440, means always open.
type Daily struct {
	Timezone string
	Opens    int
	Closes   int
}

// Validate checks the window and loads the time zone.
func (d Daily) Validate() error {
	if d.Opens < 0 || d.Opens > 1440 || d.Closes < 0 || d.Closes > 1440 {
		return fmt.Errorf("hours: minutes must be within 0..1440, got %d..%d", d.Opens, d.Closes)
	}
	if _, err := time.LoadLocation(d.zone()); err != nil {
		return fmt.Errorf("hours: unknown time zone %q", d.Timezone)
	}
	return nil
}

func (d Daily) zone() string {
	if d.Timezone == "" {
		return "UTC"
	}
	return d.Timezone
}

// OpenAt reports whether the window contains t. An unknown time zone counts as UTC.
func (d Daily) OpenAt(t time.Time) bool {
	if d.Opens == d.Closes || (d.Opens == 0 && d.Closes == 1440) {
		return true
	}
	loc, err := time.LoadLocation(d.zone())
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if d.Opens < d.Closes {
		return m >= d.Opens && m < d.Closes
	}
	return m >= d.Opens || m < d.Closes
}
