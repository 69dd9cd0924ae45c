package dlq

import (
	"context"
	"fmt"
	"strings"
)

// SourcePayment is the source of payments the payment saga gave up on.
const SourcePayment = "payment"

// SourceShipment is the source of failed shipments (the carrier refused a booking or lost a
// parcel; redriven: booked again), and SourceNotification of notifications not delivered in
// 3 days or refused for good (redriven: delivered again, with the same ID).
const (
	SourceShipment     = "shipment"
	SourceNotification = "notification"
)

// Source is dead letters kept outside the bus: work that ran out of attempts (payments the
// saga gave up on). Its entries' IDs are "<Name()>-<key>"; it lists them ordered by key.
type Source interface {
	// Name is the source's name, the prefix of its IDs.
	Name() string
	// List returns up to limit entries whose key sorts after after ("" for the first).
	List(ctx context.Context, after string, limit int) ([]Entry, error)
	// Count is how many dead letters the source holds.
	Count(ctx context.Context) (int, error)
	// Show returns the entry with key in full, or ErrNotFound.
	Show(ctx context.Context, key string) (Detail, error)
	// Redrive puts the entries with keys (every one, when keys is nil) back to work and returns
	// the keys it redrove; keys it does not hold are not an error.
	Redrive(ctx context.Context, keys []string) ([]string, error)
}

// WithSources adds sources to the view, listed after the bus's dead letters in the order given.
func (s *Service) WithSources(sources ...Source) *Service {
	s.sources = append(s.sources, sources...)
	return s
}

// source returns the source an ID belongs to (nil for the bus) and the key within it.
func (s *Service) source(id string) (Source, string, bool) {
	for _, src := range s.sources {
		if key, ok := strings.CutPrefix(id, src.Name()+"-"); ok && key != "" {
			return src, key, true
		}
	}
	return nil, "", false
}

// idError says what a malformed ID should look like.
func (s *Service) idError() string {
	forms := []string{`"bus-42"`}
	for _, src := range s.sources {
		forms = append(forms, fmt.Sprintf(`"%s-<key>"`, src.Name()))
	}
	return "must look like " + strings.Join(forms, " or ")
}

// sourceTotal is how many dead letters the sources hold.
func (s *Service) sourceTotal(ctx context.Context) (int, error) {
	n := 0
	for _, src := range s.sources {
		c, err := src.Count(ctx)
		if err != nil {
			return 0, s.unavailable(ctx, "count "+src.Name()+" dead letters", err)
		}
		n += c
	}
	return n, nil
}

// listSources fills p (up to limit entries) from the sources, starting after key in source
// first (or at the first source when first is nil).
func (s *Service) listSources(ctx context.Context, p *Page, first Source, after string, limit int) error {
	started := first == nil
	for _, src := range s.sources {
		if !started {
			if src != first {
				continue
			}
			started = true
		} else {
			after = ""
		}
		room := limit - len(p.Entries)
		entries, err := src.List(ctx, after, room+1)
		if err != nil {
			return s.unavailable(ctx, "list "+src.Name()+" dead letters", err)
		}
		for i, e := range entries {
			if i == room {
				p.NextCursor = p.Entries[len(p.Entries)-1].ID
				return nil
			}
			p.Entries = append(p.Entries, e)
		}
	}
	return nil
}
