package tracking

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// Event names on the stream.
const (
	statusEvent   = "status"
	locationEvent = "location"
)

// statusData is the data of a status event.
type statusData struct {
	OrderID string    `json:"order_id"`
	Status  string    `json:"status"`
	At      time.Time `json:"at"`
}

// locationData is the data of a location event.
type locationData struct {
	CourierID string    `json:"courier_id"`
	Lat       float64   `json:"lat"`
	Lng       float64   `json:"lng"`
	At        time.Time `json:"at"`
}

// message is one event for a watcher.
type message struct {
	name string
	// version is the order's version a status event brings it to (orders.version): the event's
	// SSE id. Zero for a status event that came without one: the stream reads the store instead.
	version int64
	status  statusData // when name is statusEvent
	data    []byte     // encoded data, shared by every watcher
}

// statusMessage is the status event for an order at version. Times are cut to the store's
// milliseconds, so an event reads the same whether it came from the bus or the store.
func statusMessage(orderID, status string, version int64, at time.Time) message {
	d := statusData{OrderID: orderID, Status: status, At: at.UTC().Truncate(time.Millisecond)}
	b, _ := json.Marshal(d)
	return message{name: statusEvent, version: version, status: d, data: b}
}

func locationMessage(l event.Location) message {
	d := locationData{CourierID: l.CourierID, Lat: l.Lat, Lng: l.Lng, At: l.At.UTC()}
	b, _ := json.Marshal(d)
	return message{name: locationEvent, data: b}
}

// terminal reports whether an order in status will never change again.
func terminal(status string) bool {
	switch status {
	case "delivered", "cancelled", "rejected", "failed":
		return true
	}
	return false
}

// watcher is one stream's mailbox. It keeps every status event but only the latest location
// (a slow client skips positions, never statuses) and signals new mail on a 1-buffered
// channel, so the hub never waits for a client.
type watcher struct {
	orderID string
	signal  chan struct{}

	mu       sync.Mutex
	statuses []message
	location *message
}

func (w *watcher) push(m message) {
	w.mu.Lock()
	if m.name == locationEvent {
		w.location = &m
	} else {
		w.statuses = append(w.statuses, m)
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// take empties the mailbox: the latest location, if one came, then the statuses in order.
func (w *watcher) take() (location *message, statuses []message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	location, statuses = w.location, w.statuses
	w.location, w.statuses = nil, nil
	return location, statuses
}

// hub fans order statuses and courier positions out to the watchers of each order. It tracks
// which courier carries each watched order (from delivery.assigned and the stream's first
// read) and forgets it when the order ends, so positions reach only the order's own watchers
// and only while its courier carries it.
type hub struct {
	mu        sync.Mutex
	watchers  map[string]map[*watcher]struct{} // order ID -> its watchers
	carriers  map[string]string                // watched order ID -> courier carrying it
	byCourier map[string]map[string]struct{}   // courier ID -> watched orders it carries
}

func newHub() *hub {
	return &hub{
		watchers:  make(map[string]map[*watcher]struct{}),
		carriers:  make(map[string]string),
		byCourier: make(map[string]map[string]struct{}),
	}
}

// watch adds a watcher for orderID; unwatch it when done.
func (h *hub) watch(orderID string) *watcher {
	w := &watcher{orderID: orderID, signal: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.watchers[orderID]
	if ws == nil {
		ws = make(map[*watcher]struct{})
		h.watchers[orderID] = ws
	}
	ws[w] = struct{}{}
	return w
}

func (h *hub) unwatch(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.watchers[w.orderID]
	delete(ws, w)
	if len(ws) == 0 {
		delete(h.watchers, w.orderID)
		h.uncarryLocked(w.orderID)
	}
}

// carry records that courierID carries orderID, if anyone watches the order. It reports
// whether that is news.
func (h *hub) carry(orderID, courierID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, watched := h.watchers[orderID]; !watched || h.carriers[orderID] == courierID {
		return false
	}
	h.uncarryLocked(orderID)
	h.carriers[orderID] = courierID
	orders := h.byCourier[courierID]
	if orders == nil {
		orders = make(map[string]struct{})
		h.byCourier[courierID] = orders
	}
	orders[orderID] = struct{}{}
	return true
}

// carrier returns the courier carrying a watched order.
func (h *hub) carrier(orderID string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.carriers[orderID]
	return c, ok
}

func (h *hub) uncarryLocked(orderID string) {
	c, ok := h.carriers[orderID]
	if !ok {
		return
	}
	delete(h.carriers, orderID)
	delete(h.byCourier[c], orderID)
	if len(h.byCourier[c]) == 0 {
		delete(h.byCourier, c)
	}
}

// status sends an order's new status, at version, to its watchers; a final status ends its
// courier's visibility.
func (h *hub) status(orderID, status string, version int64, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if terminal(status) {
		h.uncarryLocked(orderID)
	}
	ws := h.watchers[orderID]
	if len(ws) == 0 {
		return
	}
	m := statusMessage(orderID, status, version, at)
	for w := range ws {
		w.push(m)
	}
}

// location sends a courier's position to the watchers of the orders it carries.
func (h *hub) location(l event.Location) {
	h.mu.Lock()
	defer h.mu.Unlock()
	orders := h.byCourier[l.CourierID]
	if len(orders) == 0 {
		return
	}
	m := locationMessage(l)
	for o := range orders {
		for w := range h.watchers[o] {
			w.push(m)
		}
	}
}
