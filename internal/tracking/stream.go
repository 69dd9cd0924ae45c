package tracking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// writeTimeout bounds each write to an event stream, so a stuck client frees its handler.
const writeTimeout = 30 * time.Second

// serveEvents streams an order to a watcher as server-sent events (GET /v1/orders/{id}/events,
// customer for their own order, or ops). It sends the current status and, while a courier
// carries the order, its last known position; then every status change and the courier's
// latest position as they come, with a comment line every Heartbeat. The stream ends after a
// final status (delivered, cancelled, rejected, failed).
//
// Statuses come from the event stream and from the store, read when the stream opens and every
// StatusPoll, so they arrive even when every event is lost. A status event's id is the order's
// version: the stream sends only versions newer than the last it sent, so a status is never
// repeated nor followed by an older one. A client reconnecting with Last-Event-ID gets only
// what is newer than that id; one that already has the final status gets 204, which tells an
// EventSource to stop reconnecting. Location events carry no id. A failure to read the order
// when the stream opens is answered by fail (503 with Retry-After while the store is down).
func (s *Service) serveEvents(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, *http.Request, error)) {
	ctx := r.Context()
	p, code, msg := httpapi.Require(ctx, auth.Customer, auth.Ops)
	if code != 0 {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tiffin"`)
		}
		httpapi.WriteProblem(w, code, msg)
		return
	}
	orderID := r.PathValue("id")

	// Watch before reading, so nothing that happens after the read is missed.
	wt := s.hub.watch(orderID)
	defer s.hub.unwatch(wt)

	o, err := s.readOrder(ctx, orderID)
	if errors.Is(err, errNoOrder) || (err == nil && p.Role == auth.Customer && o.customerID != p.Subject) {
		httpapi.WriteProblem(w, http.StatusNotFound, "order not found")
		return
	}
	if err != nil {
		fail(w, r, fmt.Errorf("event stream: %w", err))
		return
	}
	seen := lastEventID(r, o.version)
	if seen == o.version && terminal(o.status) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if o.courierID != "" && !terminal(o.status) {
		s.hub.carry(orderID, o.courierID)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	es := &eventStream{svc: s, orderID: orderID, w: &sseWriter{w: w, rc: http.NewResponseController(w)}, sent: seen}

	end := es.status(statusMessage(orderID, o.status, o.version, o.updatedAt))
	if c, ok := s.hub.carrier(orderID); ok && !end {
		if l, ok := s.position(c); ok {
			es.w.write(locationMessage(l))
		}
	}
	if !es.w.flush() || end {
		return
	}

	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(s.cfg.StatusPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			es.w.comment("heartbeat")
		case <-poll.C:
			end = es.refresh(ctx)
		case <-wt.signal:
			loc, statuses := wt.take()
			if loc != nil {
				es.w.write(*loc)
			}
			unversioned := false
			for _, m := range statuses {
				if m.version == 0 {
					unversioned = true
					continue
				}
				if end = es.status(m); end {
					break
				}
			}
			if unversioned && !end {
				// An event that does not say which version it brings: ask the store.
				end = es.refresh(ctx)
			}
		}
		if !es.w.flush() || end {
			return
		}
	}
}

// lastEventID is the Last-Event-ID a reconnecting client sent: the order's version it last
// saw. An id the order never had (not a number, or beyond its current version) counts as none.
func lastEventID(r *http.Request, current int64) int64 {
	n, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil || n <= 0 || n > current {
		return 0
	}
	return n
}

// eventStream is one watcher's stream: where it is in the order's history.
type eventStream struct {
	svc     *Service
	orderID string
	w       *sseWriter
	sent    int64  // the order's version the client has the status of
	last    string // the last status sent
}

// status writes a status event if it is newer than what the client has, and reports whether
// the order has ended. A newer version that keeps the status the client has is not repeated.
func (es *eventStream) status(m message) (end bool) {
	if m.version <= es.sent {
		return false
	}
	es.sent = m.version
	if m.status.Status != es.last {
		es.last = m.status.Status
		es.w.write(m)
	}
	return terminal(m.status.Status)
}

// refresh reads the order from the store and sends its status if the client lacks it; it also
// learns who carries the order, in case delivery.assigned was lost. A failed read is logged and
// left to the next poll. It reports whether the order has ended.
func (es *eventStream) refresh(ctx context.Context) (end bool) {
	s := es.svc
	o, err := s.readOrder(ctx, es.orderID)
	if err != nil {
		if ctx.Err() == nil {
			s.log.DebugContext(ctx, "event stream: refresh order", "order_id", es.orderID, "err", err)
		}
		return false
	}
	if o.courierID != "" && !terminal(o.status) && s.hub.carry(es.orderID, o.courierID) {
		if l, ok := s.position(o.courierID); ok {
			s.hub.location(l)
		}
	}
	return es.status(statusMessage(es.orderID, o.status, o.version, o.updatedAt))
}

// sseWriter writes server-sent events, remembering the first error so callers can write
// several events and check once.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

// write sends m, with the order's version as its id when it is a status event.
func (s *sseWriter) write(m message) {
	if s.err != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if m.name == statusEvent {
		_, s.err = fmt.Fprintf(s.w, "id: %d\nevent: %s\ndata: %s\n\n", m.version, m.name, m.data)
		return
	}
	_, s.err = fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", m.name, m.data)
}

func (s *sseWriter) comment(text string) {
	if s.err != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, s.err = fmt.Fprintf(s.w, ": %s\n\n", text)
}

// flush sends what was written and reports whether the stream is still healthy.
func (s *sseWriter) flush() bool {
	if s.err == nil {
		s.err = s.rc.Flush()
	}
	return s.err == nil
}
