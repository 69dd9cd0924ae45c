package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrDeadLetterNotFound is returned for a dead-letter sequence the stream does not hold (never
// written, redriven already, or expired).
var ErrDeadLetterNotFound = errors.New("bus: no such dead letter")

// DeadLetter is a message a consumer gave up on, as the dead-letter stream keeps it.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream, which identifies it.
	Seq uint64
	// Consumer gave up on it after Tries tries; Reason is the last error.
	Consumer string
	Reason   string
	Tries    int
	// Subject is the subject it was published on, where a redrive publishes it again.
	Subject string
	// MsgID is the Nats-Msg-Id it was first published with (the event ID for relayed events).
	MsgID string
	// FirstFailed and LastFailed are when its first and last tries failed.
	FirstFailed, LastFailed time.Time
	// Header holds the original message's headers and the dead-letter ones.
	Header nats.Header
	// Data is the message as it was published.
	Data []byte
}

func deadLetterOf(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		Seq: m.Sequence, Consumer: h.Get(HeaderDLQConsumer), Reason: h.Get(HeaderDLQError),
		Subject: h.Get(HeaderDLQSubject), MsgID: h.Get(HeaderDLQMsgID), Header: h, Data: m.Data,
	}
	tries := h.Get(HeaderDLQTries)
	if tries == "" {
		tries = h.Get(headerDLQDeliveries)
	}
	d.Tries, _ = strconv.Atoi(tries)
	d.LastFailed = m.Time.UTC()
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderDLQLastFailed)); err == nil {
		d.LastFailed = t
	}
	d.FirstFailed = d.LastFailed
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderDLQFirstFailed)); err == nil {
		d.FirstFailed = t
	}
	return d
}

func (b *Bus) dlq(ctx context.Context) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, fmt.Errorf("bus: dead-letter stream: %w", err)
	}
	return s, nil
}

// DeadLetters returns up to limit dead letters with sequence from or above, oldest first.
func (b *Bus) DeadLetters(ctx context.Context, from uint64, limit int) ([]DeadLetter, error) {
	s, err := b.dlq(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for seq := max(from, 1); len(out) < limit; {
		// The first message at or after seq: redriven dead letters leave gaps.
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(DLQSubject("*")))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bus: read dead letter %d: %w", seq, err)
		}
		out = append(out, deadLetterOf(m))
		seq = m.Sequence + 1
	}
	return out, nil
}

// DeadLetter returns the dead letter with sequence seq, or ErrDeadLetterNotFound.
func (b *Bus) DeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, err := b.dlq(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	return getDeadLetter(ctx, s, seq)
}

func getDeadLetter(ctx context.Context, s jetstream.Stream, seq uint64) (DeadLetter, error) {
	if seq == 0 {
		return DeadLetter{}, fmt.Errorf("%w: 0", ErrDeadLetterNotFound)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrDeadLetterNotFound, seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("bus: read dead letter %d: %w", seq, err)
	}
	return deadLetterOf(m), nil
}

// DeadLetterStats are the dead-letter stream's depth and the sequence of its newest entry.
type DeadLetterStats struct {
	Count   uint64
	LastSeq uint64
}

// DeadLetterStats reads how many dead letters there are.
func (b *Bus) DeadLetterStats(ctx context.Context) (DeadLetterStats, error) {
	s, err := b.dlq(ctx)
	if err != nil {
		return DeadLetterStats{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return DeadLetterStats{}, fmt.Errorf("bus: dead-letter stream info: %w", err)
	}
	return DeadLetterStats{Count: info.State.Msgs, LastSeq: info.State.LastSeq}, nil
}

// Redrive publishes dead letter seq again, for its consumer alone, and then removes it.
//
// The message goes back to its original subject with its original payload and headers (so the
// event ID in the envelope, which consumers' processed-event records key on, is unchanged), plus
// HeaderRedriveFor naming its consumer, so consumers of the subject that handled it the first
// time skip it without relying on records they may have pruned. Its Nats-Msg-Id is fresh,
// "redrive-<seq>-<time>" of the dead letter: the original ID would be dropped as a duplicate
// within the stream's dedupe window, while the fresh one still makes two redrives of one dead
// letter store one message. The dead letter is deleted only once the event stream has
// acknowledged the publish, so a failure at any point leaves it to be redriven again.
func (b *Bus) Redrive(ctx context.Context, seq uint64) error {
	s, err := b.dlq(ctx)
	if err != nil {
		return err
	}
	d, err := getDeadLetter(ctx, s, seq)
	if err != nil {
		return err
	}
	if d.Subject == "" || d.Consumer == "" {
		return fmt.Errorf("bus: dead letter %d names no subject or consumer", seq)
	}
	h := nats.Header{}
	for k, v := range d.Header {
		if !strings.HasPrefix(k, "Nats-") && !strings.HasPrefix(k, "Tiffin-Dlq-") {
			h[k] = v
		}
	}
	h.Set(HeaderRedriveFor, d.Consumer)
	if d.MsgID != "" {
		h.Set(HeaderOriginalMsgID, d.MsgID)
	}
	id := "redrive-" + strconv.FormatUint(seq, 10) + "-" + strconv.FormatInt(d.LastFailed.UnixNano(), 10)
	msg := &nats.Msg{Subject: d.Subject, Data: d.Data, Header: h}
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(Stream)); err != nil {
		return fmt.Errorf("bus: redrive dead letter %d to %s: %w", seq, d.Subject, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		if _, gerr := getDeadLetter(ctx, s, seq); errors.Is(gerr, ErrDeadLetterNotFound) {
			return nil // a concurrent redrive removed it
		}
		return fmt.Errorf("bus: dead letter %d was republished but not removed (redriving it again is safe): %w", seq, err)
	}
	return nil
}
