package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	// Stream holds every event relayed from the outbox.
	Stream = "TIFFIN"
	// DLQStream holds messages consumers gave up on, one subject per consumer.
	DLQStream = "TIFFIN_DLQ"
	// FailureBucket is a key-value bucket remembering when each message a consumer is retrying
	// first failed (key <consumer>.<stream sequence>), so its dead letter can say so.
	FailureBucket = "TIFFIN_FAILURES"
)

// Retention and dedupe.
const (
	// DedupeWindow is how long the event stream remembers Nats-Msg-Ids: an outbox row published
	// again within it is stored once.
	DedupeWindow = 10 * time.Minute
	// StreamMaxAge is how long events stay in the stream.
	StreamMaxAge = 7 * 24 * time.Hour
	// DLQMaxAge is how long dead letters stay.
	DLQMaxAge = 30 * 24 * time.Hour
)

// StreamSubjects returns the subjects the event stream captures: region-partitioned order,
// delivery, shipment, payment and notify events (tiffin.<region>.<kind>.<what>) and the region-less
// tiffin.notify.<what>. Courier locations (tiffin.<region>.courier.location) stay on core NATS.
//
// JetStream refuses overlapping subjects, within a stream and across streams, so the
// region-less forms are single-token wildcards: tiffin.notify.> or tiffin.dlq.> would overlap
// tiffin.*.order.> (think tiffin.dlq.order.placed).
func StreamSubjects() []string {
	return []string{
		"tiffin.*.order.>",
		"tiffin.*.delivery.>",
		"tiffin.*.shipment.>",
		"tiffin.*.payment.>",
		"tiffin.*.notify.>",
		"tiffin.notify.*",
	}
}

// DLQSubject is the subject a consumer's dead letters go to: tiffin.dlq.<consumer>.
func DLQSubject(consumer string) string { return "tiffin.dlq." + consumer }

func (b *Bus) ensureStreams(ctx context.Context) error {
	streams := []jetstream.StreamConfig{
		{
			Name:        Stream,
			Description: "tiffin events, relayed from the store's outbox",
			Subjects:    StreamSubjects(),
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Duplicates:  DedupeWindow,
			MaxAge:      StreamMaxAge,
			MaxBytes:    b.cfg.StreamMaxBytes,
			Replicas:    b.cfg.Replicas,
		},
		{
			Name:        DLQStream,
			Description: "messages tiffin's consumers gave up on",
			Subjects:    []string{DLQSubject("*")},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Duplicates:  DedupeWindow,
			MaxAge:      DLQMaxAge,
			MaxBytes:    b.cfg.StreamMaxBytes / 4,
			Replicas:    b.cfg.Replicas,
		},
	}
	for _, sc := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("bus: create stream %s: %w", sc.Name, err)
		}
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      FailureBucket,
		Description: "when each message a tiffin consumer is retrying first failed",
		TTL:         StreamMaxAge, // a record never outlives its message
		MaxBytes:    b.cfg.StreamMaxBytes / 16,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: create bucket %s: %w", FailureBucket, err)
	}
	b.failures = kv
	return nil
}
