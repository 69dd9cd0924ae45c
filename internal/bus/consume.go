package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// Handler handles one event. Returning an error asks for a redelivery later. Delivery is at
// least once, so handlers must be idempotent (store.Tx.Processed makes that one line).
type Handler func(ctx context.Context, e event.Envelope) error

// Consumer defaults; ConsumeOptions override them.
const (
	DefaultMaxDeliver     = 20
	DefaultRetryBaseDelay = time.Second
	DefaultRetryMaxDelay  = 30 * time.Second
)

// spareDeliveries is how many deliveries the server makes beyond a consumer's tries. The handler
// never sees them: a message whose last try ended without an answer (the process died, the ack
// was lost) comes back once more to be dead-lettered, and a dead-letter publish that failed is
// tried again. The server's MaxDeliver is tries + spareDeliveries; only if every spare delivery
// fails to reach the dead-letter stream does a message stay behind in the event stream, logged.
const spareDeliveries = 3

// ConsumeOption tunes one consumer.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	tries       int
	baseDelay   time.Duration
	maxDelay    time.Duration
	concurrency int
}

// WithMaxDeliver sets how many times the handler is tried on a message before the message goes
// to the dead-letter queue. Default 20.
func WithMaxDeliver(n int) ConsumeOption { return func(c *consumeConfig) { c.tries = n } }

// WithRetryDelay sets the server's redelivery schedule (JetStream BackOff): a try that fails, or
// goes unanswered, is redelivered base after it was handed out, the next 2*base after that,
// doubling up to maxDelay. Each step is also that delivery's ack deadline, which the consumer
// extends while the handler runs. Default 1s to 30s.
func WithRetryDelay(base, maxDelay time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.baseDelay, c.maxDelay = base, maxDelay }
}

// WithConcurrency sets how many messages the consumer handles at once. Default
// Config.ConsumerConcurrency. With 1, events are handled in stream order.
func WithConcurrency(n int) ConsumeOption { return func(c *consumeConfig) { c.concurrency = n } }

// backOff is the schedule given to the server: the k-th delivery of a message is redelivered
// backOff[k-1] after it was handed out or last reported progress (the last step repeats).
// Steps double from baseDelay to maxDelay, at most tries of them.
func (c consumeConfig) backOff() []time.Duration {
	var steps []time.Duration
	for d := c.baseDelay; len(steps) < c.tries; d *= 2 {
		if d >= c.maxDelay {
			steps = append(steps, c.maxDelay)
			break
		}
		steps = append(steps, d)
	}
	return steps
}

// ackDeadline is how long the server waits on the delivered-th delivery before handing the
// message out again.
func (c consumeConfig) ackDeadline(delivered int) time.Duration {
	steps := c.backOff()
	return steps[min(max(delivered, 1), len(steps))-1]
}

// Consume runs h for every event on subjects (which must lie in the event stream) through the
// durable consumer name, until ctx ends; then it stops fetching, waits for running handlers and
// returns nil, within about two seconds. It returns an error only if, before ctx ends, the
// consumer can't be created or the connection closes, so cancel consumers before closing the bus.
//
// Redelivery is the server's: the consumer has MaxDeliver and BackOff (see WithRetryDelay), a
// handler error leaves the message unacknowledged until its step of the schedule has passed, and
// while a handler runs the consumer reports progress so the message is not handed out again.
// The try that fails last, or a delivery after the last try went unanswered, or a message that
// can't be decoded, is published to DLQSubject(name) with the HeaderDLQ* headers and
// terminated. Events arrive in stream order but, with concurrency above one, are handled out of
// order. A message redriven for another consumer (HeaderRedriveFor) is acknowledged unseen.
func (b *Bus) Consume(ctx context.Context, name string, subjects []string, h Handler, opts ...ConsumeOption) error {
	if err := validToken(name); err != nil {
		return fmt.Errorf("bus: consumer name %q: %w", name, err)
	}
	if len(subjects) == 0 {
		return fmt.Errorf("bus: consumer %s: no subjects", name)
	}
	cc := consumeConfig{
		tries:       DefaultMaxDeliver,
		baseDelay:   DefaultRetryBaseDelay,
		maxDelay:    DefaultRetryMaxDelay,
		concurrency: b.cfg.ConsumerConcurrency,
	}
	for _, o := range opts {
		o(&cc)
	}
	cc.tries = max(cc.tries, 1)
	cc.concurrency = max(cc.concurrency, 1)
	cc.baseDelay = max(cc.baseDelay, time.Millisecond)
	cc.maxDelay = max(cc.maxDelay, cc.baseDelay)

	c := &consumer{bus: b, name: name, subjects: subjects, h: h, cfg: cc, log: b.log.With("consumer", name),
		handling: map[uint64]int{}}
	cons, err := c.subscribe(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return err
	}

	// One token per handler that may run. The consumer pulls only as many messages as it has
	// free tokens: a message waiting in this process would spend its ack deadline queueing,
	// while another replica could be handling it.
	tokens := make(chan struct{}, cc.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		n := take(ctx, tokens)
		if n == 0 {
			return nil
		}
		// A loop of bounded fetches rather than Consumer.Messages: the latter's pull accounting
		// can stall until its heartbeat check fires (seconds) when acks race its own pull requests.
		err := c.fetch(ctx, cons, n, tokens, &wg)
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

// take waits for one free token and takes every other free one too; it returns how many it
// took, 0 once ctx has ended.
func take(ctx context.Context, tokens chan struct{}) int {
	select {
	case tokens <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < cap(tokens) {
		select {
		case tokens <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

// fetchWait bounds one pull request; a new one follows at once. It is also how long Consume
// may take to return once its ctx ends.
const fetchWait = 2 * time.Second

// fetch pulls up to n messages, waiting at most fetchWait, and starts a handler for each,
// holding one of the n tokens it was given; the tokens it does not use go back.
//
// The pull request is never cut short, even when ctx ends: the server would go on delivering
// to it, and whatever it delivered after we stopped listening would sit unacknowledged for a
// whole ack deadline. So once ctx ends, fetch stays until the request expires, handing every
// message that still arrives straight back to the server.
func (c *consumer) fetch(ctx context.Context, cons jetstream.Consumer, n int, tokens chan struct{}, wg *sync.WaitGroup) error {
	unused := n
	defer func() {
		for range unused {
			<-tokens
		}
	}()
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
		unused--
		wg.Go(func() {
			defer func() { <-tokens }()
			c.handle(ctx, m)
		})
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

	mu       sync.Mutex
	handling map[uint64]int // stream sequences a handler of this process works on: latest delivery
}

// subscribe creates or updates the durable consumer.
func (c *consumer) subscribe(ctx context.Context) (jetstream.Consumer, error) {
	backOff := c.cfg.backOff()
	cfg := jetstream.ConsumerConfig{
		Durable:       c.name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       backOff[0], // the server takes it from BackOff anyway
		BackOff:       backOff,
		MaxDeliver:    c.cfg.tries + spareDeliveries,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: max(1000, 4*c.cfg.concurrency),
	}
	switch {
	case len(c.subjects) == 1:
		cfg.FilterSubject = c.subjects[0]
	case c.filterInCode:
	default:
		cfg.FilterSubjects = c.subjects
	}
	if err := c.bus.waitStreams(ctx); err != nil {
		return nil, err
	}
	for {
		cons, err := c.bus.js.CreateOrUpdateConsumer(ctx, Stream, cfg)
		if err != nil && cfg.FilterSubjects != nil && strings.Contains(err.Error(), "multiple consumer filter subjects not supported") {
			c.log.Warn("the NATS server is older than 2.10: filtering this consumer's subjects in the client")
			c.filterInCode = true
			cfg.FilterSubjects = nil
			cons, err = c.bus.js.CreateOrUpdateConsumer(ctx, Stream, cfg)
		}
		if err == nil {
			return cons, nil
		}
		if c.bus.nc.IsConnected() || c.bus.nc.IsClosed() || ctx.Err() != nil {
			return nil, fmt.Errorf("bus: create consumer %s: %w", c.name, err)
		}
		// The broker is away: wait for it rather than stop the service.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
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
