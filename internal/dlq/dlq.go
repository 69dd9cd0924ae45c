// Package dlq is the operators' one view of dead letters: messages the bus's consumers gave up
// on, listed, shown and redriven through the ops routes (/v1/ops/dlq) and `tiffin dlq`, either
// in the server (Service) or from outside it (Client). Entries are shaped generically (id,
// source, consumer, subject, reason, tries, failure times, a payload preview) so that jobs that
// run out of attempts can join the view as a second source.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// SourceBus is the source of dead letters kept by the bus (a JetStream consumer gave up).
const SourceBus = "bus"

// Limits.
const (
	// DefaultLimit and MaxLimit bound a page of List.
	DefaultLimit = 50
	MaxLimit     = 500
	// PreviewBytes bounds Entry.Preview.
	PreviewBytes = 200
)

// Errors callers branch on.
var (
	ErrNotFound    = fault.New(fault.NotFound, "dead letter not found")
	ErrUnavailable = fault.New(fault.Unavailable, "dead letters are unavailable: the bus did not answer")
)

// Entry is a dead letter as listed.
type Entry struct {
	ID            string    `json:"id" doc:"The dead letter's ID: <source>-<number>, e.g. bus-42."`
	Source        string    `json:"source" enum:"bus,payment,shipment,notification" doc:"Where it is kept: bus (a bus consumer gave up on it), payment (the payment saga gave up on a provider call), shipment (the carrier refused or lost it), notification (not delivered in time, or refused for good)."`
	Consumer      string    `json:"consumer" doc:"The consumer that gave up."`
	Subject       string    `json:"subject" doc:"The subject it was published on, where a redrive publishes it again."`
	Reason        string    `json:"reason" doc:"The last error."`
	Tries         int       `json:"tries" doc:"Tries made before giving up."`
	FirstFailedAt time.Time `json:"first_failed_at"`
	LastFailedAt  time.Time `json:"last_failed_at"`
	Preview       string    `json:"preview" doc:"The start of the payload (at most 200 bytes, then an ellipsis)."`
}

// Detail is a dead letter in full.
type Detail struct {
	Entry
	MsgID   string            `json:"msg_id,omitempty" doc:"The Nats-Msg-Id it was first published with (the event ID); absent when it had none."`
	Headers map[string]string `json:"headers" doc:"Its headers, the dead-letter ones (Tiffin-Dlq-*) included; not the Nats-* headers of the dead letter's own publish."`
	Payload string            `json:"payload" doc:"The payload as published (bytes that are not UTF-8 replaced)."`
}

// Page is one page of dead letters, oldest first.
type Page struct {
	Entries    []Entry `json:"entries"`
	Total      int     `json:"total" doc:"Dead letters in all."`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last."`
}

// RedriveResult says what a redrive did.
type RedriveResult struct {
	Redriven  []string  `json:"redriven" doc:"IDs republished and removed."`
	NotFound  []string  `json:"not_found" doc:"IDs not held (never written, or redriven already)."`
	Failed    []Failure `json:"failed" doc:"IDs that could not be redriven; they stay."`
	Remaining int       `json:"remaining" doc:"Dead letters left afterwards."`
}

// Failure is a dead letter that could not be redriven.
type Failure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// Service reads and redrives the dead letters of one bus.
type Service struct {
	bus     *bus.Bus
	log     *slog.Logger
	sources []Source
	audit   *store.DB // where redrives are audited (AuditIn); nil: not audited (the CLI on a store)
}

// AuditIn has every redrive through the ops routes recorded in db's audit log.
func (s *Service) AuditIn(db *store.DB) { s.audit = db }

// New returns the dead-letter service of b. A nil logger discards.
func New(b *bus.Bus, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{bus: b, log: logger.With("svc", "dlq")}
}

// unavailable logs why the bus failed and returns the error clients see.
func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	s.log.ErrorContext(ctx, what, "err", err)
	return ErrUnavailable
}

// Depth is how many dead letters there are.
func (s *Service) Depth(ctx context.Context) (int, error) {
	st, err := s.bus.DeadLetterStats(ctx)
	if err != nil {
		return 0, s.unavailable(ctx, "dead-letter depth", err)
	}
	return int(st.Count), nil // #nosec G115 -- a count of messages in one stream, far below MaxInt on 64-bit
}

// List returns up to limit dead letters after cursor (a dead letter's ID; empty for the first
// page), oldest first. limit 0 means DefaultLimit; it is capped at MaxLimit.
func (s *Service) List(ctx context.Context, cursor string, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var from uint64
	if cursor != "" {
		if src, key, ok := s.source(cursor); ok {
			p := Page{Entries: []Entry{}}
			if err := s.total(ctx, &p); err != nil {
				return Page{}, err
			}
			return p, s.listSources(ctx, &p, src, key, limit)
		}
		seq, err := ParseID(cursor)
		if err != nil {
			return Page{}, fault.Field("query.cursor", cursor, "%s", s.idError())
		}
		from = seq + 1
	}
	letters, err := s.bus.DeadLetters(ctx, from, limit+1)
	if err != nil {
		return Page{}, s.unavailable(ctx, "list dead letters", err)
	}
	p := Page{Entries: []Entry{}}
	if err := s.total(ctx, &p); err != nil {
		return Page{}, err
	}
	for i, d := range letters {
		if i == limit {
			p.NextCursor = p.Entries[limit-1].ID
			return p, nil
		}
		p.Entries = append(p.Entries, entryOf(d))
	}
	return p, s.listSources(ctx, &p, nil, "", limit)
}

// total sets p.Total: the bus's dead letters and every source's.
func (s *Service) total(ctx context.Context, p *Page) error {
	st, err := s.bus.DeadLetterStats(ctx)
	if err != nil {
		return s.unavailable(ctx, "count dead letters", err)
	}
	n, err := s.sourceTotal(ctx)
	if err != nil {
		return err
	}
	p.Total = int(st.Count) + n // #nosec G115 -- a count of messages in one stream, far below MaxInt on 64-bit
	return nil
}

// Show returns the dead letter id in full.
func (s *Service) Show(ctx context.Context, id string) (Detail, error) {
	if src, key, ok := s.source(id); ok {
		return src.Show(ctx, key)
	}
	seq, err := ParseID(id)
	if err != nil {
		return Detail{}, fault.Field("path.id", id, "%s", s.idError())
	}
	d, err := s.bus.DeadLetter(ctx, seq)
	if errors.Is(err, bus.ErrDeadLetterNotFound) {
		return Detail{}, ErrNotFound
	}
	if err != nil {
		return Detail{}, s.unavailable(ctx, "show dead letter", err)
	}
	headers := map[string]string{}
	for k, v := range d.Header {
		// A dead letter keeps none of the message's Nats-* headers (its Nats-Msg-Id is MsgID):
		// those it has are its own publish's (Nats-Msg-Id <consumer>-<seq>, its dedupe key),
		// and shown here they passed for the message's.
		if !strings.HasPrefix(k, "Nats-") {
			headers[k] = strings.Join(v, ", ")
		}
	}
	return Detail{Entry: entryOf(d), MsgID: d.MsgID, Headers: headers, Payload: strings.ToValidUTF8(string(d.Data), "\uFFFD")}, nil
}

// Redrive republishes the dead letters ids for their consumers and removes them (see
// bus.Bus.Redrive). IDs not held are reported, not refused, so a retried redrive is harmless;
// a malformed ID refuses the whole request before anything is redriven.
func (s *Service) Redrive(ctx context.Context, ids []string) (RedriveResult, error) {
	seqs := make([]uint64, 0, len(ids))
	keys := map[Source][]string{}
	for i, id := range ids {
		if src, key, ok := s.source(id); ok {
			keys[src] = append(keys[src], key)
			continue
		}
		seq, err := ParseID(id)
		if err != nil {
			return RedriveResult{}, fault.Field(fmt.Sprintf("body.ids[%d]", i), id, "%s", s.idError())
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return s.redrive(ctx, slices.Compact(seqs), keys, false)
}

// RedriveAll redrives every dead letter there is when it starts; ones written meanwhile (a
// redriven message that fails again, say) wait for the next redrive. If ctx ends first, it
// reports what it did, and Remaining says what is left.
func (s *Service) RedriveAll(ctx context.Context) (RedriveResult, error) {
	st, err := s.bus.DeadLetterStats(ctx)
	if err != nil {
		return RedriveResult{}, s.unavailable(ctx, "count dead letters", err)
	}
	var seqs []uint64
	for from := uint64(0); from <= st.LastSeq; {
		letters, err := s.bus.DeadLetters(ctx, from, MaxLimit)
		if err != nil {
			return RedriveResult{}, s.unavailable(ctx, "list dead letters", err)
		}
		if len(letters) == 0 {
			break
		}
		for _, d := range letters {
			if d.Seq <= st.LastSeq {
				seqs = append(seqs, d.Seq)
			}
		}
		from = letters[len(letters)-1].Seq + 1
	}
	return s.redrive(ctx, seqs, nil, true)
}

// redrive redrives the bus's dead letters seqs and the sources' keys (every one of the
// sources' when all).
func (s *Service) redrive(ctx context.Context, seqs []uint64, keys map[Source][]string, all bool) (RedriveResult, error) {
	res := RedriveResult{Redriven: []string{}, NotFound: []string{}, Failed: []Failure{}}
	for _, src := range s.sources {
		want := keys[src]
		if !all && len(want) == 0 {
			continue
		}
		if all {
			want = nil
		}
		done, err := src.Redrive(ctx, want)
		if err != nil {
			for _, k := range want {
				res.Failed = append(res.Failed, Failure{ID: src.Name() + "-" + k, Error: err.Error()})
			}
			s.log.ErrorContext(ctx, "redrive", "source", src.Name(), "err", err)
			continue
		}
		redriven := map[string]bool{}
		for _, k := range done {
			redriven[k] = true
			res.Redriven = append(res.Redriven, src.Name()+"-"+k)
		}
		for _, k := range want {
			if !redriven[k] {
				res.NotFound = append(res.NotFound, src.Name()+"-"+k)
			}
		}
	}
	for _, seq := range seqs {
		if ctx.Err() != nil {
			break // out of time: report what was done; the rest stay for the next redrive
		}
		id := FormatID(seq)
		err := s.bus.Redrive(ctx, seq)
		switch {
		case ctx.Err() != nil && err != nil:
		case err == nil:
			res.Redriven = append(res.Redriven, id)
		case errors.Is(err, bus.ErrDeadLetterNotFound):
			res.NotFound = append(res.NotFound, id)
		default:
			s.log.ErrorContext(ctx, "redrive", "id", id, "err", err)
			res.Failed = append(res.Failed, Failure{ID: id, Error: err.Error()})
		}
	}
	if len(res.Redriven) > 0 {
		s.log.InfoContext(ctx, "redriven", "count", len(res.Redriven))
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	n, err := s.Depth(dctx)
	if err != nil {
		return res, err
	}
	m, err := s.sourceTotal(dctx)
	if err != nil {
		return res, err
	}
	res.Remaining = n + m
	return res, nil
}

func entryOf(d bus.DeadLetter) Entry {
	return Entry{
		ID: FormatID(d.Seq), Source: SourceBus, Consumer: d.Consumer, Subject: d.Subject, Reason: d.Reason,
		Tries: d.Tries, FirstFailedAt: d.FirstFailed, LastFailedAt: d.LastFailed, Preview: preview(d.Data),
	}
}

// preview is the start of data as text: at most PreviewBytes bytes, cut at a character, with
// an ellipsis when cut.
func preview(data []byte) string {
	s := strings.ToValidUTF8(string(data), "\uFFFD")
	if len(s) <= PreviewBytes {
		return s
	}
	n := PreviewBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// FormatID is the ID of the bus's dead letter seq.
func FormatID(seq uint64) string { return SourceBus + "-" + strconv.FormatUint(seq, 10) }

// ParseID returns the sequence of a bus dead letter's ID ("bus-42").
func ParseID(id string) (uint64, error) {
	num, ok := strings.CutPrefix(id, SourceBus+"-")
	if !ok {
		return 0, errors.New(`must look like "bus-42"`)
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil || seq == 0 || strconv.FormatUint(seq, 10) != num {
		return 0, errors.New(`must look like "bus-42": a positive number after "bus-"`)
	}
	return seq, nil
}
