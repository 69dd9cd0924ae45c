package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// streamed is one status event as a watcher saw it.
type streamed struct {
	ID, Status string
}

// watchStatuses opens the order's event stream and returns a channel that gets the status
// events seen, with their ids, once the server ends the stream.
func watchStatuses(t *testing.T, a *apptest.App, token, id string) <-chan []streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL+"/v1/orders/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: got %d", resp.StatusCode)
	}
	out := make(chan []streamed, 1)
	go func() {
		defer resp.Body.Close()
		var seen []streamed
		var cur streamed
		var name string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if name == "status" {
					seen = append(seen, cur)
				}
				cur, name = streamed{}, ""
			case strings.HasPrefix(line, "id: "):
				cur.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var d struct {
					Status string `json:"status"`
				}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d)
				cur.Status = d.Status
			}
		}
		out <- seen
	}()
	return out
}

// TestStatusesWithoutRelay boots the whole app with the outbox relay stopped, so no order
// event ever reaches the bus (issue 5, failure 7, and "statuses still reach watchers" when the
// broker takes nothing): the customer's stream still gets every status from the store, each
// once with the order's version as its id, and ends at the final one.
func TestStatusesWithoutRelay(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, func(c *app.Config) { c.NoRelay = true })
			m := seed(t, a, "r-1", "owner-1")
			customer := a.Token(auth.Customer, "cust-1")
			r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "k-1")
			if r.Status != http.StatusCreated {
				t.Fatalf("place order: got %d %s", r.Status, r.Body)
			}
			var placed order
			r.JSON(t, &placed)

			events := watchStatuses(t, a, customer, placed.ID)
			if r := a.Do("POST", "/v1/orders/"+placed.ID+"/cancel", customer, nil); r.Status != http.StatusOK {
				t.Fatalf("cancel: got %d %s", r.Status, r.Body)
			}
			select {
			case seen := <-events:
				want := []streamed{{"1", "placed"}, {"2", "cancelled"}}
				if diff := cmp.Diff(want, seen); diff != "" {
					t.Errorf("SSE statuses (-want +got):\n%s", diff)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("SSE stream did not end after the order was cancelled")
			}

			// The events are still in the outbox, never published, and carry the versions.
			rows, err := a.DB().UnsentOutbox(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			var versions []string
			for _, row := range rows {
				e, err := event.Decode(row.Payload)
				if err != nil {
					t.Fatal(err)
				}
				var o event.Order
				if err := e.Payload(&o); err != nil {
					t.Fatal(err)
				}
				versions = append(versions, fmt.Sprintf("%s@%d", e.Type, o.OrderVersion))
			}
			if diff := cmp.Diff([]string{"order.placed@1", "order.cancelled@2"}, versions); diff != "" {
				t.Errorf("unsent outbox (-want +got):\n%s", diff)
			}
		})
	}
}
