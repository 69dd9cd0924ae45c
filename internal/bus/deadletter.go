package bus

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers on dead letters, besides the original message's own headers.
const (
	HeaderDLQConsumer    = "Tiffin-Dlq-Consumer"     // consumer that gave up
	HeaderDLQSubject     = "Tiffin-Dlq-Subject"      // subject the message was on
	HeaderDLQError       = "Tiffin-Dlq-Error"        // last error, one line
	HeaderDLQTries       = "Tiffin-Dlq-Tries"        // tries made
	HeaderDLQStreamSeq   = "Tiffin-Dlq-Stream-Seq"   // sequence in the event stream
	HeaderDLQMsgID       = "Tiffin-Dlq-Msg-Id"       // the original Nats-Msg-Id (the event ID)
	HeaderDLQFirstFailed = "Tiffin-Dlq-First-Failed" // when the first try failed, RFC 3339
	HeaderDLQLastFailed  = "Tiffin-Dlq-Last-Failed"  // when the last try failed, RFC 3339

	// headerDLQDeliveries is what dead letters written before tries were counted carry instead
	// of HeaderDLQTries.
	headerDLQDeliveries = "Tiffin-Dlq-Deliveries"
)

// Headers on redriven messages.
const (
	// HeaderRedriveFor names the one consumer a redriven message is for; every other consumer
	// of its subject acknowledges it without handling it.
	HeaderRedriveFor = "Tiffin-Redrive-For"
	// HeaderOriginalMsgID is the Nats-Msg-Id the message first had; a redriven message gets a
	// fresh one, or the stream's dedupe window would drop it.
	HeaderOriginalMsgID = "Tiffin-Original-Msg-Id"
)

// deadLetter publishes m to the consumer's dead-letter subject after tries tries, cause being
// the last failure, and answers giveUp. If the publish fails it answers retry: the server hands
// the message out again after its ack deadline (one of the spare deliveries) and the consumer
// dead-letters it then.
func (c *consumer) deadLetter(ctx context.Context, m jetstream.Msg, seq uint64, tries int, cause error) outcome {
	// The handler is done with the message; finish its dead-lettering even when shutting down.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.bus.cfg.PublishTimeout)
	defer cancel()
	now := time.Now().UTC()
	first := now
	if t, ok := c.bus.firstFailure(ctx, c.name, seq); ok && t.Before(now) {
		first = t
	}
	h := nats.Header{}
	for k, v := range m.Headers() {
		if !strings.HasPrefix(k, "Nats-") && !strings.HasPrefix(k, "Tiffin-Dlq-") && k != HeaderRedriveFor && k != HeaderOriginalMsgID {
			h[k] = v
		}
	}
	h.Set(HeaderDLQConsumer, c.name)
	h.Set(HeaderDLQSubject, m.Subject())
	h.Set(HeaderDLQError, oneLine(cause.Error(), 1024))
	h.Set(HeaderDLQTries, strconv.Itoa(tries))
	h.Set(HeaderDLQStreamSeq, strconv.FormatUint(seq, 10))
	h.Set(HeaderDLQFirstFailed, first.Format(time.RFC3339Nano))
	h.Set(HeaderDLQLastFailed, now.Format(time.RFC3339Nano))
	id := m.Headers().Get(HeaderOriginalMsgID)
	if id == "" {
		id = m.Headers().Get(jetstream.MsgIDHeader)
	}
	if id != "" {
		h.Set(HeaderDLQMsgID, id)
	}
	msg := &nats.Msg{Subject: DLQSubject(c.name), Data: m.Data(), Header: h}
	// The event stream's sequence names the message: dead-lettering it twice stores it once.
	if _, err := c.bus.js.PublishMsg(ctx, msg, jetstream.WithMsgID(c.name+"-"+strconv.FormatUint(seq, 10)), jetstream.WithExpectStream(DLQStream)); err != nil {
		c.log.Error("dead-letter publish failed; the message stays in the event stream if no spare delivery succeeds",
			"seq", seq, "err", err, "cause", cause)
		return retry
	}
	c.bus.forgetFailure(ctx, c.name, seq)
	c.log.Error("dead-lettered", "subject", m.Subject(), "seq", seq, "tries", tries, "err", cause)
	return giveUp
}

// failureKey is the failure record's key for a consumer's message.
func failureKey(consumer string, seq uint64) string {
	return consumer + "." + strconv.FormatUint(seq, 10)
}

// noteFailure records that the consumer's message seq failed at t, unless an earlier failure is
// on record. Failure records are best effort: without one, a dead letter's first failure is its
// last.
func (b *Bus) noteFailure(ctx context.Context, consumer string, seq uint64, t time.Time) {
	if seq == 0 {
		return
	}
	_, err := b.failures.Create(ctx, failureKey(consumer, seq), []byte(t.UTC().Format(time.RFC3339Nano)))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		b.log.Warn("record failure", "consumer", consumer, "seq", seq, "err", err)
	}
}

// firstFailure returns when the consumer's message seq first failed, if that is on record.
func (b *Bus) firstFailure(ctx context.Context, consumer string, seq uint64) (time.Time, bool) {
	if seq == 0 {
		return time.Time{}, false
	}
	e, err := b.failures.Get(ctx, failureKey(consumer, seq))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			b.log.Warn("read failure record", "consumer", consumer, "seq", seq, "err", err)
		}
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	return t, err == nil
}

// forgetFailure drops the failure record of a message that succeeded or was dead-lettered.
func (b *Bus) forgetFailure(ctx context.Context, consumer string, seq uint64) {
	if seq == 0 {
		return
	}
	if err := b.failures.Purge(ctx, failureKey(consumer, seq)); err != nil {
		b.log.Warn("forget failure record", "consumer", consumer, "seq", seq, "err", err)
	}
}

// oneLine makes s safe for a header value: no line breaks, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}
