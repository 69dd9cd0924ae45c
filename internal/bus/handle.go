package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// claim marks seq as being handled here, at its delivered-th delivery. It returns false if a
// handler of this process already works on seq (the server handed it out again, a progress
// report having come late), and then remembers the later delivery for that handler.
func (c *consumer) claim(seq uint64, delivered int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.handling[seq]; ok {
		c.handling[seq] = max(d, delivered)
		return false
	}
	c.handling[seq] = delivered
	return true
}

// deliveries is the latest delivery of seq seen while it is handled here.
func (c *consumer) deliveries(seq uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handling[seq]
}

func (c *consumer) release(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.handling, seq)
}

// outcome is the answer a handled message gets.
type outcome int

const (
	ack     outcome = iota // done
	retry                  // failed: left unanswered, the server redelivers on its schedule
	giveUp                 // dead-lettered: terminated
	requeue                // shutting down: handed back for immediate redelivery
)

// handle works on one delivery: it acknowledges messages that are not the consumer's, reports
// progress while process runs, and answers the server as process decides.
func (c *consumer) handle(ctx context.Context, m jetstream.Msg) {
	delivered, seq := 1, uint64(0)
	if meta, err := m.Metadata(); err == nil {
		delivered, seq = int(meta.NumDelivered), meta.Sequence.Stream // #nosec G115 -- a count of messages in one stream, far below MaxInt on 64-bit
	}
	if c.filterInCode && !c.wants(m.Subject()) {
		_ = m.Ack()
		return
	}
	if to := m.Headers().Get(HeaderRedriveFor); to != "" && to != c.name {
		_ = m.Ack() // another consumer's dead letter, redriven for it alone
		return
	}
	if seq != 0 {
		if !c.claim(seq, delivered) {
			return
		}
		defer c.release(seq)
	}
	stop := keepAlive(m, c.cfg.ackDeadline(delivered))
	o := c.process(ctx, m, delivered, seq)
	stop()
	var err error
	switch o {
	case ack:
		err = m.Ack()
	case giveUp:
		// A plain terminate: servers before 2.10 do not parse "+TERM <reason>" and would
		// ignore it, handing the message out again up to MaxDeliver.
		err = m.Term()
	case requeue:
		err = m.Nak()
	}
	if err != nil {
		c.log.Warn("answer the server", "seq", seq, "err", err)
	}
}

// process decodes and handles m (its delivered-th delivery), dead-lettering it when it is out
// of tries, and says how the server is to be answered.
func (c *consumer) process(ctx context.Context, m jetstream.Msg, delivered int, seq uint64) outcome {
	e, err := event.Decode(m.Data())
	if err != nil {
		return c.deadLetter(ctx, m, seq, delivered, err)
	}
	if delivered > c.cfg.tries {
		// The last try never answered: the process died or the answer was lost.
		return c.deadLetter(ctx, m, seq, c.cfg.tries, fmt.Errorf("bus: no answer to try %d of %d (the process stopped, or its answer was lost)", c.cfg.tries, c.cfg.tries))
	}
	err = c.call(ctx, e)
	if seq != 0 {
		// Deliveries made while the handler ran count as tries: the server stops at MaxDeliver.
		delivered = max(delivered, c.deliveries(seq))
	}
	switch {
	case err == nil:
		if delivered > 1 {
			c.bus.forgetFailure(ctx, c.name, seq)
		}
		return ack
	case ctx.Err() != nil:
		return requeue // shutting down: let the next instance have it now
	case delivered >= c.cfg.tries:
		return c.deadLetter(ctx, m, seq, delivered, err)
	}
	c.bus.noteFailure(ctx, c.name, seq, time.Now())
	c.log.Warn("handler failed", "event_id", e.ID, "type", e.Type, "try", delivered, "of", c.cfg.tries,
		"retry_in", c.cfg.ackDeadline(delivered), "err", err)
	return retry
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

// keepAlive tells the server every third of deadline that m is still being worked on, which
// restarts its ack deadline, until stop is called.
func keepAlive(m jetstream.Msg, deadline time.Duration) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(deadline/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
