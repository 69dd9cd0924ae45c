package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// Handler handles one event. Returning an error asks for a redelivery later. Delivery is at
// least once, so handlers must be idempotent (store.Tx.Processed makes that one line).
type Handler func(ctx context.Context, e event.Envelope) error

// Headers on dead letters, besides the original message's own headers.
const (
	HeaderDLQConsumer   = "Tiffin-Dlq-Consumer"   // consumer that gave up
	HeaderDLQSubject    = "Tiffin-Dlq-Subject"    // subject the message was on
	HeaderDLQError      = "Tiffin-Dlq-Error"      // last error, one line
	HeaderDLQDeliveries = "Tiffin-Dlq-Deliveries" // delivery attempts made
	HeaderDLQStreamSeq  = "Tiffin-Dlq-Stream-Seq" // sequence in the event stream
	HeaderDLQMsgID      = "Tiffin-Dlq-Msg-Id"     // the original Nats-Msg-Id (the event ID)
)

// Consumer defaults; ConsumeOptions override them.
const (
	DefaultMaxDeliver     = 20
	DefaultAckWait        = 30 * time.Second
	DefaultRetryBaseDelay = time.Second
	DefaultRetryMaxDelay  = 30 * time.Second
)

// ConsumeOption tunes one consumer.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	maxDeliver  int
	ackWait     time.Duration
	baseDelay   time.Duration
	maxDelay    time.Duration
	concurrency int
}

// WithMaxDeliver sets how many times a message is tried before it goes to the dead-letter
// queue. Default 20.
func WithMaxDeliver(n int) ConsumeOption { return func(c *consumeConfig) { c.maxDeliver = n } }

// WithRetryDelay sets the redelivery delay after a handler error: base after the first
// failure, doubling with each further one, capped at maxDelay. Default 1s to 30s.
func WithRetryDelay(base, maxDelay time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.baseDelay, c.maxDelay = base, maxDelay }
}

// WithAckWait sets how long the server waits for a handler to finish before redelivering.
// Default 30s.
func WithAckWait(d time.Duration) ConsumeOption { return func(c *consumeConfig) { c.ackWait = d } }

// WithConcurrency sets how many messages the consumer handles at once. Default
// Config.ConsumerConcurrency. With 1, events are handled in stream order.
func WithConcurrency(n int) ConsumeOption { return func(c *consumeConfig) { c.concurrency = n } }

// retryDelay is the Nak delay after the delivered-th attempt failed.
func (c consumeConfig) retryDelay(delivered int) time.Duration {
	d := c.baseDelay
	for i := 1; i < delivered && d < c.maxDelay; i++ {
		d *= 2
	}
	return min(d, c.maxDelay)
}

// Consume runs h for every event on subjects (which must lie in the event stream) through the
// durable consumer name, until ctx ends; then it stops fetching, waits for running handlers and
// returns nil, within about two seconds. It returns an error early only if the consumer can't
// be created or the connection closes, so cancel consumers before closing the bus.
//
// A handler error redelivers the event after a growing delay. Once an event has failed
// MaxDeliver times, or can't be decoded, it is published to DLQSubject(name) with the
// HeaderDLQ* headers and terminated. Events arrive in stream order but, with concurrency above
// one, are handled out of order.
func (b *Bus) Consume(ctx context.Context, name string, subjects []string, h Handler, opts ...ConsumeOption) error {
	if err := validToken(name); err != nil {
		return fmt.Errorf("bus: consumer name %q: %w", name, err)
	}
	if len(subjects) == 0 {
		return fmt.Errorf("bus: consumer %s: no subjects", name)
	}
	cc := consumeConfig{
		maxDeliver:  DefaultMaxDeliver,
		ackWait:     DefaultAckWait,
		baseDelay:   DefaultRetryBaseDelay,
		maxDelay:    DefaultRetryMaxDelay,
		concurrency: b.cfg.ConsumerConcurrency,
	}
	for _, o := range opts {
		o(&cc)
	}
	cc.maxDeliver = max(cc.maxDeliver, 1)
	cc.concurrency = max(cc.concurrency, 1)
	cc.maxDelay = max(cc.maxDelay, cc.baseDelay)

	c := &consumer{bus: b, name: name, subjects: subjects, h: h, cfg: cc, log: b.log.With("consumer", name)}
	cons, err := c.subscribe(ctx)
	if err != nil {
		return err
	}

	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range cc.concurrency {
		wg.Go(func() {
			for m := range work {
				c.handle(ctx, m)
			}
		})
	}
	defer wg.Wait()
	defer close(work)

	// A loop of bounded fetches rather than Consumer.Messages: the latter's pull accounting can
	// stall until its heartbeat check fires (seconds) when acks race its own pull requests.
	batchSize := max(8, 2*cc.concurrency)
	for {
		err := c.fetch(ctx, cons, batchSize, work)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			continue
		case b.nc.IsClosed():
			return fmt.Errorf("bus: consume %s: %w", name, err)
		}
		c.log.Warn("fetch failed", "err", err)
		if !sleep(ctx, time.Second) {
			return nil
		}
		// Whatever went wrong (the consumer deleted, a server restarted without its state),
		// making sure the consumer exists is idempotent and cheap.
		if cons, err = c.resubscribe(ctx); err != nil {
			return nil // only fails once ctx has ended
		}
	}
}

// fetchWait bounds one pull request; a new one follows at once. It is also how long Consume
// may take to return once its ctx ends.
const fetchWait = 2 * time.Second

// fetch pulls up to n messages, waiting at most fetchWait, and hands them to the workers.
//
// The pull request is never cut short, even when ctx ends: the server would go on delivering
// to it, and whatever it delivered after we stopped listening would sit unacknowledged for a
// whole AckWait. So once ctx ends, fetch stays until the request expires, handing every message
// that still arrives straight back to the server.
func (c *consumer) fetch(ctx context.Context, cons jetstream.Consumer, n int, work chan<- jetstream.Msg) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchWait)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return err
	}
	for m := range batch.Messages() {
		if ctx.Err() != nil {
			_ = m.Nak()
			continue
		}
		select {
		case work <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	}
	if err := batch.Error(); err != nil && fctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
		return err
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type consumer struct {
	bus      *Bus
	name     string
	subjects []string
	// filterInCode is set when the server could not filter on several subjects (NATS before
	// 2.10): the consumer then reads the whole stream and skips what it did not ask for.
	filterInCode bool
	h            Handler
	cfg          consumeConfig
	log          *slog.Logger
}

// subscribe creates or updates the durable consumer.
func (c *consumer) subscribe(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.ackWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Unlimited on the server: the consumer itself dead-letters after maxDeliver attempts,
		// so a message whose last attempt timed out is dead-lettered too, never silently dropped.
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 4*c.cfg.concurrency),
	}
	switch {
	case len(c.subjects) == 1:
		cfg.FilterSubject = c.subjects[0]
	case c.filterInCode:
	default:
		cfg.FilterSubjects = c.subjects
	}
	cons, err := c.bus.js.CreateOrUpdateConsumer(ctx, Stream, cfg)
	if err != nil && cfg.FilterSubjects != nil && strings.Contains(err.Error(), "multiple consumer filter subjects not supported") {
		c.log.Warn("the NATS server is older than 2.10: filtering this consumer's subjects in the client")
		c.filterInCode = true
		cfg.FilterSubjects = nil
		cons, err = c.bus.js.CreateOrUpdateConsumer(ctx, Stream, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: create consumer %s: %w", c.name, err)
	}
	return cons, nil
}

// wants reports whether subject matches one of the consumer's subjects (NATS wildcards).
func (c *consumer) wants(subject string) bool {
	for _, pattern := range c.subjects {
		if subjectMatches(pattern, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether subject matches pattern, where "*" stands for one token and a
// final ">" for one or more.
func subjectMatches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return i == len(pt)-1 && len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

// resubscribe retries subscribe every second until it works or ctx ends.
func (c *consumer) resubscribe(ctx context.Context) (jetstream.Consumer, error) {
	for {
		cons, err := c.subscribe(ctx)
		if err == nil {
			return cons, nil
		}
		c.log.Warn("resubscribe", "err", err)
		if !sleep(ctx, time.Second) {
			return nil, ctx.Err()
		}
	}
}

func (c *consumer) handle(ctx context.Context, m jetstream.Msg) {
	delivered, seq := 1, uint64(0)
	if meta, err := m.Metadata(); err == nil {
		delivered, seq = int(meta.NumDelivered), meta.Sequence.Stream
	}
	if c.filterInCode && !c.wants(m.Subject()) {
		_ = m.Ack()
		return
	}
	e, err := event.Decode(m.Data())
	if err != nil {
		c.deadLetter(ctx, m, delivered, seq, err)
		return
	}
	if delivered > c.cfg.maxDeliver {
		// Earlier attempts timed out rather than failed.
		c.deadLetter(ctx, m, delivered, seq, fmt.Errorf("bus: no outcome after %d deliveries", delivered-1))
		return
	}
	err = c.call(ctx, e)
	switch {
	case err == nil:
		if err := m.Ack(); err != nil {
			c.log.Warn("ack", "event_id", e.ID, "err", err)
		}
	case ctx.Err() != nil:
		_ = m.Nak() // shutting down: let the next instance have it now
	case delivered >= c.cfg.maxDeliver:
		c.deadLetter(ctx, m, delivered, seq, err)
	default:
		delay := c.cfg.retryDelay(delivered)
		c.log.Warn("handler failed", "event_id", e.ID, "type", e.Type, "delivered", delivered, "retry_in", delay, "err", err)
		if err := m.NakWithDelay(delay); err != nil {
			c.log.Warn("nak", "event_id", e.ID, "err", err)
		}
	}
}

// call runs the handler, turning a panic into an error so one bad event can't kill the process.
func (c *consumer) call(ctx context.Context, e event.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bus: handler panic: %v", p)
		}
	}()
	return c.h(ctx, e)
}

// deadLetter publishes m to the consumer's dead-letter subject and terminates it. If the
// publish fails the message is redelivered later and dead-lettered then.
func (c *consumer) deadLetter(ctx context.Context, m jetstream.Msg, delivered int, seq uint64, cause error) {
	h := nats.Header{}
	for k, v := range m.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = v
		}
	}
	h.Set(HeaderDLQConsumer, c.name)
	h.Set(HeaderDLQSubject, m.Subject())
	h.Set(HeaderDLQError, oneLine(cause.Error(), 1024))
	h.Set(HeaderDLQDeliveries, strconv.Itoa(delivered))
	h.Set(HeaderDLQStreamSeq, strconv.FormatUint(seq, 10))
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
		h.Set(HeaderDLQMsgID, id)
	}
	// The handler is done with the message; finish its dead-lettering even when shutting down.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.bus.cfg.PublishTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: DLQSubject(c.name), Data: m.Data(), Header: h}
	if _, err := c.bus.js.PublishMsg(pctx, msg, jetstream.WithMsgID(c.name+"-"+strconv.FormatUint(seq, 10))); err != nil {
		c.log.Error("dead-letter publish failed", "seq", seq, "err", err, "cause", cause)
		_ = m.NakWithDelay(c.cfg.maxDelay)
		return
	}
	c.log.Error("dead-lettered", "subject", m.Subject(), "seq", seq, "delivered", delivered, "err", cause)
	if err := m.TermWithReason("dead-lettered"); err != nil {
		c.log.Warn("term", "seq", seq, "err", err)
	}
}

// validToken checks that s can be a durable name and a subject token.
func validToken(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, ".*>/\\ \t\r\n") {
		return errors.New("must not contain '.', '*', '>', slashes or whitespace")
	}
	return nil
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
