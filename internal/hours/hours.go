// Package hours says whether a place with daily opening hours in a time zone is open at a given
// instant. Catalog shows it to browsers; orders refuses checkout at a closed restaurant.
package hours

import (
	"fmt"
	"sync"
	"time"
)

const minutesPerDay = 24 * 60

// Daily is a daily opening window in minutes after local midnight: open from Opens up to (not
// including) Closes. Closes before Opens means the window runs past midnight; equal minutes
// (0 and 1440 included) mean always open.
type Daily struct {
	Timezone string // IANA name; empty means UTC
	Opens    int
	Closes   int
}

// Validate checks the window and the time zone.
func (d Daily) Validate() error {
	if d.Opens < 0 || d.Opens > minutesPerDay || d.Closes < 0 || d.Closes > minutesPerDay {
		return fmt.Errorf("hours: minutes must be within 0..1440, got %d..%d", d.Opens, d.Closes)
	}
	if _, err := Location(d.Timezone); err != nil {
		return err
	}
	return nil
}

// OpenAt reports whether the window contains t, judged by the wall clock in the time zone. An
// unknown time zone (Validate refuses it) counts as UTC.
func (d Daily) OpenAt(t time.Time) bool {
	opens, closes := d.Opens%minutesPerDay, d.Closes%minutesPerDay
	if opens == closes {
		return true
	}
	loc, err := Location(d.Timezone)
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if opens < closes {
		return m >= opens && m < closes
	}
	return m >= opens || m < closes
}

// zones memoises time.LoadLocation, which reads the zone database on every call. It only ever
// holds names that loaded, so at most the tz database; it is the package's only state and is
// never mutated but by adding immutable entries.
var zones sync.Map // string -> *time.Location

// Location loads an IANA time zone ("" is UTC). "Local" is refused: the server's zone says
// nothing about a restaurant.
func Location(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("hours: unknown time zone %q", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("hours: unknown time zone %q", name)
	}
	zones.Store(name, l)
	return l, nil
}
