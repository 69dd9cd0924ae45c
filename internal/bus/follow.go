package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// followStopWait bounds how long a follower's stop waits for its last call to finish.
const followStopWait = 5 * time.Second

// Follow calls f for every event the event stream stores on subjects from now on, until the
// returned stop is called. Each subject is read by its own ephemeral ordered consumer (in
// server memory, no acks, one subject each so any server version takes it), which after a
// disconnect, a missed heartbeat or a server restart picks up after the last event it
// delivered: unlike Subscribe, a connection that drops for a while loses nothing the stream
// kept. Events on one subject come in stream order; calls are sequential. Messages that are
// not events are skipped.
//
// A follower is not durable: one started again starts from new events, and whoever needs the
// past reads the store. Use Consume for work that must be done once; Follow is for every
// replica that only watches.
func (b *Bus) Follow(ctx context.Context, subjects []string, f func(e event.Envelope)) (stop func(), err error) {
	if len(subjects) == 0 {
		return nil, errors.New("bus: follow: no subjects")
	}
	var mu sync.Mutex // makes calls of f sequential across subjects
	handle := func(m jetstream.Msg) {
		e, err := event.Decode(m.Data())
		if err != nil {
			b.log.Debug("follow: skip undecodable message", "subject", m.Subject(), "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		f(e)
	}
	var running []jetstream.ConsumeContext
	stop = func() {
		for _, cc := range running {
			cc.Stop()
		}
		// Wait, a bounded time, for the last call of f to finish.
		deadline := time.After(followStopWait)
		for _, cc := range running {
			select {
			case <-cc.Closed():
			case <-deadline:
				return
			}
		}
	}
	// Start after the stream's last message by sequence rather than with DeliverNew: an ordered
	// consumer that is reset (the server restarted) before delivering anything is recreated
	// with its first policy, and DeliverNew would then skip whatever was stored meanwhile.
	st, err := b.js.Stream(ctx, Stream)
	if err != nil {
		return nil, fmt.Errorf("bus: follow: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: follow: %w", err)
	}
	start := info.State.LastSeq + 1
	for _, subject := range subjects {
		cons, err := b.js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subject},
			DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:    start,
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("bus: follow %s: %w", subject, err)
		}
		cc, err := cons.Consume(handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrConnectionClosed) && !errors.Is(err, nats.ErrConnectionClosed) {
				b.log.Warn("follow", "subject", subject, "err", err)
			}
		}))
		if err != nil {
			stop()
			return nil, fmt.Errorf("bus: follow %s: %w", subject, err)
		}
		running = append(running, cc)
	}
	return stop, nil
}
