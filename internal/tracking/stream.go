package tracking

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// writeTimeout bounds each write to an event stream, so a stuck client frees its handler.
const writeTimeout = 30 * time.Second

// serveEvents streams an order to a watcher as server-sent events (GET /v1/orders/{id}/events,
// customer for their own order, or ops). It sends the current status and, while a courier
// carries the order, its last known position; then every status change and the courier's
// latest position as they come, with a comment line every Heartbeat. Each event has an id,
// counting from 1 in each stream; a reconnecting client starts again from the current status.
// The stream ends after a final status (delivered, cancelled, rejected, failed).
func (s *Service) serveEvents(w http.ResponseWriter, r *http.Request) {
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

	var customerID, status string
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT customer_id, status, updated_at FROM orders WHERE id = $1`, orderID).
		Scan(&customerID, &status, &updated)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && p.Role == auth.Customer && customerID != p.Subject) {
		httpapi.WriteProblem(w, http.StatusNotFound, "order not found")
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "event stream: read order", "order_id", orderID, "err", err)
		httpapi.WriteProblem(w, http.StatusInternalServerError, "internal error")
		return
	}
	var courierID sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT courier_id FROM deliveries
		WHERE order_id = $1 AND status IN ('assigned', 'picked_up')`, orderID).Scan(&courierID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		s.log.ErrorContext(ctx, "event stream: read delivery", "order_id", orderID, "err", err)
		httpapi.WriteProblem(w, http.StatusInternalServerError, "internal error")
		return
	}
	if courierID.Valid && courierID.String != "" && !terminal(status) {
		s.hub.carry(orderID, courierID.String)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &sseWriter{w: w, rc: http.NewResponseController(w)}

	first := statusMessage(orderID, status, store.Time(updated))
	st.write(first)
	last := first.status
	if c, ok := s.hub.carrier(orderID); ok {
		if l, ok := s.position(c); ok {
			st.write(locationMessage(l))
		}
	}
	if terminal(status) {
		st.flush()
		return
	}
	if !st.flush() {
		return
	}

	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			st.comment("heartbeat")
		case <-wt.signal:
			loc, statuses := wt.take()
			if loc != nil {
				st.write(*loc)
			}
			for _, m := range statuses {
				// The first read may be newer than events still on their way: skip stale ones.
				if m.status.Status == last.Status || m.status.At.Before(last.At) {
					continue
				}
				st.write(m)
				last = m.status
				if terminal(m.status.Status) {
					st.flush()
					return
				}
			}
		}
		if !st.flush() {
			return
		}
	}
}

// sseWriter writes server-sent events, remembering the first error so callers can write
// several events and check once.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	id  int
	err error
}

func (s *sseWriter) write(m message) {
	if s.err != nil {
		return
	}
	s.id++
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, s.err = fmt.Fprintf(s.w, "id: %s\nevent: %s\ndata: %s\n\n", strconv.Itoa(s.id), m.name, m.data)
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
