package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/event"
)

// poisonTries is how many times the partner consumer of the broker scenario tries a message
// before it is dead-lettered.
const poisonTries = 3

// poisonResult is the dead-letter round of the broker scenario.
type poisonResult struct {
	in, out    int // dead letters the partner consumer wrote; dead letters the redrive took out
	wrongTries int // dead letters whose recorded or observed tries differ from poisonTries
	lost, dup  int // poison events never handled after the redrive; handled more than once
	left       int // dead letters left after the redrive
	examples   []string
}

func (p poisonResult) ok() bool {
	return p.wrongTries == 0 && p.lost == 0 && p.dup == 0 && p.left == 0 && p.in > 0 && p.out >= p.in
}

// poisonRound runs after the broker scenario's load, on the same broker and the running app.
// A partner integration (a durable bus consumer of delivery.offered, which no tiffin service
// consumes, in this process) is broken: it fails every event. n events are published for it;
// each must be dead-lettered after exactly poisonTries tries, visible through the app's
// GET /v1/ops/dlq with those tries. Then the partner is fixed and ops redrive everything
// through POST /v1/ops/dlq/redrive: every poison event must be handled exactly once and the
// dead-letter queue left empty.
func poisonRound(ctx context.Context, out io.Writer, natsURL, base, opsToken string, n int) (res poisonResult, err error) {
	b, err := bus.Open(ctx, bus.Config{URL: natsURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return res, fmt.Errorf("poison: open the bus: %w", err)
	}
	defer b.Close()

	var mu sync.Mutex
	broken := true
	tries, handled := map[string]int{}, map[string]int{}
	ids := make(map[string]bool, n)
	const consumer = "chaos-partner"
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, consumer, []string{event.SubjectAll(event.DeliveryOffered)},
			func(ctx context.Context, e event.Envelope) error {
				mu.Lock()
				defer mu.Unlock()
				if !ids[e.ID] {
					return nil // a real offer from the run: not ours
				}
				if broken {
					tries[e.ID]++
					return fmt.Errorf("partner rejects event %s", e.ID)
				}
				handled[e.ID]++
				return nil
			}, bus.WithMaxDeliver(poisonTries), bus.WithRetryDelay(200*time.Millisecond, 200*time.Millisecond))
	}()
	defer func() {
		stop()
		if cerr := <-done; cerr != nil && err == nil {
			err = fmt.Errorf("poison: consumer: %w", cerr)
		}
	}()

	events := make([]event.Envelope, n)
	for i := range events {
		e, err := event.New(event.DeliveryOffered, "chaos", time.Now(), map[string]string{"order_id": fmt.Sprintf("poison-%d", i)})
		if err != nil {
			return res, err
		}
		events[i] = e
		mu.Lock()
		ids[e.ID] = true
		mu.Unlock()
	}
	for _, e := range events {
		if err := b.Publish(ctx, e); err != nil {
			return res, fmt.Errorf("poison: publish: %w", err)
		}
	}
	fmt.Fprintf(out, "    poison: published %d events a broken partner consumer fails (%d tries each)\n", n, poisonTries)

	c := &dlq.Client{BaseURL: base, Token: opsToken}
	var mine []dlq.Entry
	deadline := time.Now().Add(3 * time.Minute)
	for {
		all, err := listAll(ctx, c)
		if err != nil {
			return res, err
		}
		mine = mine[:0]
		for _, e := range all {
			if e.Consumer == consumer {
				mine = append(mine, e)
			}
		}
		if len(mine) >= n || time.Now().After(deadline) {
			break
		}
		sleep(ctx, time.Second)
	}
	res.in = len(mine)
	mu.Lock()
	for _, e := range mine {
		if e.Tries != poisonTries {
			res.wrongTries++
			res.example(fmt.Sprintf("dead letter %s records %d tries, want %d", e.ID, e.Tries, poisonTries))
		}
	}
	for id := range ids {
		if tries[id] != poisonTries {
			res.wrongTries++
			res.example(fmt.Sprintf("event %s was tried %d times before dead-lettering, want %d", id, tries[id], poisonTries))
		}
	}
	broken = false
	mu.Unlock()
	fmt.Fprintf(out, "    poison: %d dead letters of %d; partner fixed, redriving all\n", res.in, n)

	rr, err := c.RedriveAll(ctx)
	if err != nil {
		return res, fmt.Errorf("poison: redrive: %w", err)
	}
	res.out = len(rr.Redriven)
	deadline = time.Now().Add(time.Minute)
	for {
		mu.Lock()
		got := len(handled)
		mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	sleep(ctx, 2*time.Second) // room for a duplicate to show
	mu.Lock()
	for id := range ids {
		switch h := handled[id]; {
		case h == 0:
			res.lost++
			res.example("poison event " + id + " never handled after the redrive")
		case h > 1:
			res.dup++
			res.example(fmt.Sprintf("poison event %s handled %d times after the redrive", id, h))
		}
	}
	mu.Unlock()
	p, err := c.List(ctx, "", 1)
	if err != nil {
		return res, err
	}
	res.left = p.Total
	fmt.Fprintf(out, "    poison: redrove %d, handled once %d, lost %d, duplicated %d, dead letters left %d\n",
		res.out, n-res.lost-res.dup, res.lost, res.dup, res.left)
	return res, nil
}

func (p *poisonResult) example(s string) {
	if len(p.examples) < 5 {
		p.examples = append(p.examples, s)
	}
}

// listAll pages through the dead-letter view.
func listAll(ctx context.Context, c *dlq.Client) ([]dlq.Entry, error) {
	var all []dlq.Entry
	cursor := ""
	for {
		p, err := c.List(ctx, cursor, dlq.MaxLimit)
		if err != nil {
			return nil, fmt.Errorf("poison: list dead letters: %w", err)
		}
		all = append(all, p.Entries...)
		if p.NextCursor == "" {
			return all, nil
		}
		cursor = p.NextCursor
	}
}
