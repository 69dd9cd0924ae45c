// Package bus owns tiffin's connection to NATS JetStream: an embedded in-process server for one
// machine or an external cluster, the streams events live in, publishing, the outbox relay that
// moves committed events from the store to the stream, durable consumers with retries and a
// dead-letter queue, and thin core-NATS helpers for the ephemeral courier GPS path.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/dirlock"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
)

// Config says where the bus runs and how. The zero Config starts an embedded server storing
// under ./data/nats with the defaults documented on each field.
type Config struct {
	// URL of an external NATS server or cluster, e.g. nats://127.0.0.1:4222. Empty starts an
	// embedded server in this process, reached over an in-process connection. An external
	// connection reconnects forever.
	URL string

	// StoreDir is where the embedded server keeps JetStream data. Default "data/nats".
	// Ignored with URL.
	StoreDir string
	// MaxMemory caps the embedded server's JetStream memory storage. Default 256 MiB.
	MaxMemory int64
	// MaxStore caps the embedded server's JetStream file storage. Default 2 GiB.
	MaxStore int64
	// SyncAlways makes the embedded server fsync every message before acknowledging it. Off by
	// default: the store's outbox, not the bus, is what makes events durable.
	SyncAlways bool

	// Replicas is the replication factor of the streams. Default 1; use 3 on a cluster.
	Replicas int
	// StreamMaxBytes caps the event stream's size; the oldest messages are discarded beyond
	// it. Default MaxStore/2 (1 GiB with the default MaxStore). The dead-letter stream gets a
	// quarter of it, the failure records a sixteenth.
	StreamMaxBytes int64

	// PublishTimeout bounds the wait for the server to acknowledge a publish. Default 5s.
	PublishTimeout time.Duration
	// PollInterval is how often the relay looks at the outbox when no commit signalled it.
	// Default 250ms.
	PollInterval time.Duration
	// RelayBatch is how many outbox rows the relay publishes per round. Default 256.
	RelayBatch int
	// ConsumerConcurrency is how many messages a consumer handles at once. Default 4; a
	// ConsumeOption overrides it per consumer.
	ConsumerConcurrency int

	// Logger receives the bus's logs, embedded server included. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.StoreDir == "" {
		c.StoreDir = "data/nats"
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 256 << 20
	}
	if c.MaxStore <= 0 {
		c.MaxStore = 2 << 30
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.StreamMaxBytes <= 0 {
		c.StreamMaxBytes = c.MaxStore / 2
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.RelayBatch <= 0 {
		c.RelayBatch = 256
	}
	if c.ConsumerConcurrency <= 0 {
		c.ConsumerConcurrency = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ErrStoreLocked is returned by Open when another process runs an embedded server on the same
// store directory.
var ErrStoreLocked = errors.New("bus: the NATS store is in use by another process")

// Bus is a connection to JetStream with tiffin's streams in place. It is safe for concurrent
// use; Close it when done.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	srv      *server.Server // nil when connected to an external server
	unlock   func()         // releases the embedded store's lock
	nc       *nats.Conn
	js       jetstream.JetStream
	failures jetstream.KeyValue // when each failing message first failed, per consumer
	closed   chan struct{}      // closed once the connection is closed for good
	// streamsReady is closed once the streams and the failures bucket exist. Against an
	// external server that does not answer at start, that happens when it first does.
	streamsReady chan struct{}

	closeOnce sync.Once
}

// Open connects to the bus described by cfg, starting an embedded server when cfg.URL is
// empty, and creates or updates the streams. An embedded server locks its store directory; if
// another process holds it, Open fails with ErrStoreLocked.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	cfg = cfg.withDefaults()
	b := &Bus{cfg: cfg, log: cfg.Logger.With("svc", "bus"), closed: make(chan struct{}), streamsReady: make(chan struct{})}
	opts := []nats.Option{
		nats.Name("tiffin"),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			b.log.Error("nats async error", attrs...)
		}),
		nats.DrainTimeout(10 * time.Second),
	}
	var err error
	if cfg.URL == "" {
		// nats-server does not guard its store itself, and two servers on one store corrupt
		// it: another server, or `tiffin dlq` while a server runs, is refused.
		if b.unlock, err = dirlock.Lock(cfg.StoreDir); err != nil {
			if errors.Is(err, dirlock.ErrLocked) {
				return nil, fmt.Errorf("%w: %w", ErrStoreLocked, err)
			}
			return nil, fmt.Errorf("bus: %w", err)
		}
		if b.srv, err = startEmbedded(cfg, b.log); err != nil {
			b.unlock()
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(b.srv))
		b.nc, err = nats.Connect("", opts...)
	} else {
		// A process that starts while the broker is away still serves: orders wait in the
		// outbox, and the connection keeps trying.
		opts = append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.RetryOnFailedConnect(true))
		b.nc, err = nats.Connect(cfg.URL, opts...)
	}
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if !b.nc.IsConnected() {
		b.log.Warn("the NATS server does not answer: serving without it until it does; events wait in the outbox", "url", cfg.URL)
		go b.ensureStreamsWhenConnected() // #nosec G118 -- the stream setup outlives the constructor's context on purpose; it ends when the bus closes (b.closed)
		return b, nil
	}
	if err := b.ensureStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	close(b.streamsReady)
	if b.srv != nil {
		b.log.Info("bus open", "embedded", true, "store_dir", cfg.StoreDir)
	} else {
		b.log.Info("bus open", "url", b.nc.ConnectedUrlRedacted())
	}
	return b, nil
}

// ensureStreamsWhenConnected sets the streams up once the connection first comes up, retrying
// every second until it succeeds or the bus closes.
func (b *Bus) ensureStreamsWhenConnected() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.closed:
			return
		case <-t.C:
		}
		if !b.nc.IsConnected() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := b.ensureStreams(ctx)
		cancel()
		if err != nil {
			b.log.Warn("set up the streams", "err", err)
			continue
		}
		b.log.Info("bus open", "url", b.nc.ConnectedUrlRedacted())
		close(b.streamsReady)
		return
	}
}

// waitStreams blocks until the streams exist or ctx ends.
func (b *Bus) waitStreams(ctx context.Context) error {
	select {
	case <-b.streamsReady:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Conn is the core NATS connection, for ephemeral traffic such as courier GPS.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context the bus publishes and consumes with.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Close drains the connection and, for an embedded bus, shuts the server down and waits for it.
// It is safe to call more than once.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			b.log.Warn("drain nats connection", "err", err)
			b.nc.Close()
		}
		select {
		case <-b.closed:
		case <-time.After(15 * time.Second):
			b.log.Warn("nats drain timed out")
			b.nc.Close()
		}
		b.shutdownServer()
	})
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	if b.unlock != nil {
		b.unlock()
	}
}

// Dependency names the broker in a fault.Down: "broker unreachable".
const Dependency = "broker"

// Ready reports whether the bus can take work: the connection is up and JetStream answers.
// When not, the error is a *fault.Down naming the broker (Dependency), its cause the
// connection's status or JetStream's error.
func (b *Bus) Ready(ctx context.Context) error {
	if s := b.nc.Status(); s != nats.CONNECTED {
		return &fault.Down{Dependency: Dependency, Err: fmt.Errorf("bus: connection %s", s)}
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return &fault.Down{Dependency: Dependency, Err: fmt.Errorf("bus: jetstream: %w", err)}
	}
	return nil
}

// Publish publishes e on its subject and waits for the stream to store it. The event ID is the
// Nats-Msg-Id, so publishing the same event twice within the dedupe window stores it once.
// Services normally emit events through the store's outbox instead; Publish is for events
// that no transaction owns.
func (b *Bus) Publish(ctx context.Context, e event.Envelope) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", e.Type, err)
	}
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: e.Subject(), Data: data}, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("bus: publish %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// PublishCore publishes data on subject over core NATS: fire and forget, nothing stored.
func (b *Bus) PublishCore(subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls f for every core NATS message on subject (wildcards allowed) until the
// returned function is called. Calls are sequential, on a goroutine owned by the connection.
func (b *Bus) Subscribe(subject string, f func(subject string, data []byte)) (unsubscribe func(), err error) {
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { f(m.Subject, m.Data) })
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	return func() {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			b.log.Warn("unsubscribe", "subject", subject, "err", err)
		}
	}, nil
}
