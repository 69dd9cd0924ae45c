package order

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/language"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/hours"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// PlaceRequest is a checkout: what to order, from where, delivered where.
type PlaceRequest struct {
	RestaurantID string      `json:"restaurant_id"`
	CustomerID   string      `json:"customer_id,omitempty"`
	Items        []LineInput `json:"items"`
	// Delivery is the drop-off point. A carrier order may leave it zero: it defaults to its
	// postal address's coordinates (Address, or the customer's address on record).
	Delivery geo.LatLng `json:"delivery"`
	// Fulfilment is FulfilCourier (the default) or FulfilCarrier (ops only: the order ships
	// through the outside carrier). Orders of a restaurant whose delivery mode is carrier ship
	// by carrier whatever this says.
	Fulfilment string `json:"fulfilment,omitempty"`
	// Address is the postal address a carrier order ships to; default the customer's on record.
	Address *Address `json:"address,omitempty"`
}

// Address is a postal address. Lat and Lng, when set, locate it.
type Address struct {
	Line1    string  `json:"line1"`
	City     string  `json:"city"`
	Postcode string  `json:"postcode"`
	Country  string  `json:"country"`
	Lat      float64 `json:"lat,omitempty"`
	Lng      float64 `json:"lng,omitempty"`
}

// How an order reaches its customer.
const (
	FulfilCourier = "courier" // the platform's own couriers (dispatch)
	FulfilCarrier = "carrier" // an outside carrier (the fulfil service)
)

// LineInput is one requested line.
type LineInput struct {
	MenuItemID string `json:"menu_item_id"`
	Quantity   int    `json:"quantity"`
}

// PlaceResult is the outcome of Place: the order as first answered, and whether this call replayed
// an earlier answer for the same Idempotency-Key.
type PlaceResult struct {
	Order    Order
	Body     []byte
	Replayed bool
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// countryCode is the shape of an ISO 3166-1 alpha-2 code; golang.org/x/text/language knows
// which are countries.
var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// Limits on one order. MaxQuantity caps each menu item across the whole order: lines naming
// the same item are kept as the client sent them, but their quantities count together (so 50
// lines of one dish cannot add up to 4,950 of it). The order's value is capped by
// Config.MaxOrderValue.
const (
	MaxLines    = 50
	MaxQuantity = 99
)

// Place checks out req for p under Idempotency-Key key. The same key with the same request
// replays the first answer; with a different request it is ErrIdempotencyMismatch; while the
// first request is still running it is ErrInProgress (a fault.Busy: retry after a second). A
// first request that died (its process holds no instance lease, see Config.Instance, or its
// claim is older than Config.IdempotencyStale) no longer holds the key: the retry places the
// order. Invalid requests write nothing.
// encode renders the order as the client sees it; its bytes are what a replay returns.
func (s *Service) Place(ctx context.Context, p auth.Principal, key string, req PlaceRequest, encode func(Order) ([]byte, error)) (PlaceResult, error) {
	customer, err := s.validatePlace(p, key, req)
	if err != nil {
		return PlaceResult{}, err
	}
	scope := string(p.Role) + ":" + p.Subject
	canon, _ := json.Marshal(struct {
		C string
		R PlaceRequest
	}{customer, req})
	sum := sha256.Sum256(canon)
	hash := hex.EncodeToString(sum[:])

	replay, token, err := s.claimKey(ctx, scope, key, hash)
	if err != nil {
		if token != 0 && store.Unreachable(err) {
			// The claim may have been written before its answer was lost.
			s.releaseLater(claim{scope, key, token})
		}
		return PlaceResult{}, err
	}
	if replay != nil {
		return PlaceResult{Body: replay, Replayed: true}, nil
	}
	var res PlaceResult
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		o, err := s.insertOrder(ctx, tx, p, customer, req)
		if err != nil {
			return err
		}
		body, err := encode(o)
		if err != nil {
			return fmt.Errorf("encode order %s: %w", o.ID, err)
		}
		// Only while the claim is still this request's: one taken over after
		// IdempotencyStale belongs to a retry, which answers instead.
		done, err := tx.ExecContext(ctx,
			`UPDATE idempotency_keys SET state = 'done', response_code = 201, response_body = $1
			 WHERE principal = $2 AND key = $3 AND state = 'pending' AND created_at = $4`,
			string(body), scope, key, token)
		if err != nil {
			return fmt.Errorf("record idempotent response: %w", err)
		}
		if n, err := done.RowsAffected(); err != nil || n != 1 {
			return errors.Join(ErrInProgress, err)
		}
		res = PlaceResult{Order: o, Body: body}
		return nil
	})
	if err != nil {
		// Nothing was written but the claim: release it so a corrected retry can use the key.
		// (If the commit happened and only its answer was lost, the claim is done, and the
		// release, which takes only this request's pending claim, leaves it.)
		if rerr := s.releaseClaim(ctx, claim{scope, key, token}); rerr != nil {
			s.releaseLater(claim{scope, key, token})
		}
		return PlaceResult{}, err
	}
	s.copies.Keep(ctx, orderKey(res.Order.ID), int64(res.Order.Version), orderCopy{Order: res.Order, Owner: res.Order.owner})
	return res, nil
}

// claim is one request's hold on an Idempotency-Key: the created_at it wrote is its token.
type claim struct {
	scope, key string
	token      int64
}

// releaseClaim deletes c if it is still pending and still c's (not taken over since).
func (s *Service) releaseClaim(ctx context.Context, c claim) error {
	_, err := s.db.Write(context.WithoutCancel(ctx),
		`DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND state = 'pending' AND created_at = $3`,
		c.scope, c.key, c.token)
	return err
}

// maxUnclaimed bounds the claims kept for release; past it, a claim is left to go stale
// (IdempotencyStale), as a crashed request's is.
const maxUnclaimed = 10_000

// releaseLater keeps c to be released by the reconciler once the store answers, so a client
// retrying with the key after an outage is not told it is still in progress.
func (s *Service) releaseLater(c claim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unclaimed) < maxUnclaimed {
		s.unclaimed[c] = true
	}
}

// releaseClaims releases the claims releaseLater kept, while the store answers.
func (s *Service) releaseClaims(ctx context.Context) {
	if s.db.Down() != nil {
		return
	}
	s.mu.Lock()
	claims := make([]claim, 0, len(s.unclaimed))
	for c := range s.unclaimed {
		claims = append(claims, c)
	}
	s.mu.Unlock()
	for _, c := range claims {
		if err := s.releaseClaim(ctx, c); err != nil {
			s.logger.WarnContext(ctx, "release idempotency key", "key", c.key, "err", err)
			return
		}
		s.mu.Lock()
		delete(s.unclaimed, c)
		s.mu.Unlock()
	}
}

func (s *Service) validatePlace(p auth.Principal, key string, req PlaceRequest) (string, error) {
	if strings.TrimSpace(key) == "" || len(key) > 255 {
		return "", fault.Field("header.Idempotency-Key", key, "an Idempotency-Key of 1 to 255 characters is required")
	}
	customer := p.Subject
	switch p.Role {
	case auth.Customer:
		if req.CustomerID != "" && req.CustomerID != p.Subject {
			return "", fault.Field("body.customer_id", req.CustomerID, "customers order for themselves; leave customer_id out")
		}
	case auth.Ops:
		if req.CustomerID == "" {
			return "", fault.Field("body.customer_id", nil, "ops must name the customer the order is for")
		}
		customer = req.CustomerID
	default:
		return "", ErrForbidden
	}
	if !idPattern.MatchString(customer) {
		return "", fault.Field("body.customer_id", customer, "malformed customer id")
	}
	if !idPattern.MatchString(req.RestaurantID) {
		return "", fault.Field("body.restaurant_id", req.RestaurantID, "malformed restaurant id")
	}
	if len(req.Items) == 0 || len(req.Items) > MaxLines {
		return "", fault.Field("body.items", len(req.Items), "an order has 1 to %d lines", MaxLines)
	}
	perItem := make(map[string]int, len(req.Items))
	for i, l := range req.Items {
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return "", fault.Field(fmt.Sprintf("body.items[%d].quantity", i), l.Quantity, "quantity must be between 1 and %d", MaxQuantity)
		}
		if !idPattern.MatchString(l.MenuItemID) {
			return "", fault.Field(fmt.Sprintf("body.items[%d].menu_item_id", i), l.MenuItemID, "malformed menu item id")
		}
		perItem[l.MenuItemID] += l.Quantity
		if perItem[l.MenuItemID] > MaxQuantity {
			return "", fault.Field(fmt.Sprintf("body.items[%d].quantity", i), l.Quantity,
				"at most %d of one menu item per order, counting every line that names it", MaxQuantity)
		}
	}
	switch req.Fulfilment {
	case "", FulfilCourier:
	case FulfilCarrier:
		if p.Role != auth.Ops {
			return "", fault.Field("body.fulfilment", req.Fulfilment, "only ops choose carrier fulfilment; a restaurant that ships by carrier does so by itself")
		}
	default:
		return "", fault.Field("body.fulfilment", req.Fulfilment, "fulfilment is courier or carrier")
	}
	if a := req.Address; a != nil {
		for _, f := range []struct{ name, v string }{{"line1", a.Line1}, {"city", a.City}, {"postcode", a.Postcode}, {"country", a.Country}} {
			if strings.TrimSpace(f.v) == "" || len(f.v) > 200 {
				return "", fault.Field("body.address."+f.name, nil, "%s is required, at most 200 characters", f.name)
			}
			if strings.ContainsFunc(f.v, unicode.IsControl) {
				return "", fault.Field("body.address."+f.name, nil, "%s must not contain control characters", f.name)
			}
		}
		a.Country = strings.ToUpper(a.Country)
		if r, err := language.ParseRegion(a.Country); err != nil || !countryCode.MatchString(a.Country) || !r.IsCountry() {
			return "", fault.Field("body.address.country", nil, "country must be an ISO 3166-1 alpha-2 code such as IN")
		}
		if !(geo.LatLng{Lat: a.Lat, Lng: a.Lng}).Valid() {
			return "", fault.Field("body.address", nil, "address lat and lng out of range")
		}
	}
	// A zero delivery point is judged with the restaurant (insertOrder): a carrier order's
	// defaults to its postal address.
	if !req.Delivery.Valid() {
		return "", fault.Field("body.delivery", req.Delivery, "delivery needs a valid lat and lng")
	}
	return customer, nil
}

// InstanceLease is the name of the liveness lease a process holds while it runs as instance id
// (Config.Instance): "instance/<id>".
func InstanceLease(id string) string { return instanceLeasePrefix + id }

// instanceLeasePrefix starts every instance lease's name; claimKey's takeover query and
// releaseDeadPaymentClaims spell it out too.
const instanceLeasePrefix = "instance/"

// claimKey records key as in progress, or returns the stored answer of a finished request.
// The common case, a fresh key, is one statement. token is the claim's created_at, which
// identifies this request's claim from a later takeover's.
func (s *Service) claimKey(ctx context.Context, scope, key, hash string) (replay []byte, token int64, err error) {
	now := s.cfg.Now()
	token = store.Now(now)
	claimed, err := s.db.Write(ctx,
		`INSERT INTO idempotency_keys (principal, key, request_hash, state, created_at, instance) VALUES ($1, $2, $3, 'pending', $4, $5)
		 ON CONFLICT (principal, key) DO NOTHING`, scope, key, hash, token, s.cfg.Instance)
	if err != nil {
		return nil, token, fmt.Errorf("claim idempotency key: %w", err)
	}
	if claimed == 1 {
		return nil, token, nil
	}
	var state, storedHash, body string
	var held int64
	err = s.db.QueryRowContext(ctx,
		`SELECT state, request_hash, response_body, created_at FROM idempotency_keys WHERE principal = $1 AND key = $2`,
		scope, key).Scan(&state, &storedHash, &body, &held)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, 0, ErrInProgress // claimed and released in between: let the client retry
	case err != nil:
		return nil, 0, fmt.Errorf("read idempotency key: %w", err)
	case storedHash != hash:
		return nil, 0, ErrIdempotencyMismatch
	case state == "done":
		return []byte(body), 0, nil
	}
	// Pending: another request holds it, unless that request died: its claim is older than
	// IdempotencyStale, or it names an instance whose liveness lease has expired (or is gone).
	// The takeover swaps exactly the claim read (so of concurrent retries one wins) for a
	// token greater than the old one even on a clock that stood still, so the request it
	// replaces, if it still runs somewhere, can neither finish nor release the new claim.
	token = max(token, held+1)
	took, err := s.db.Write(ctx,
		`UPDATE idempotency_keys SET created_at = $1, instance = $2
		 WHERE principal = $3 AND key = $4 AND state = 'pending' AND created_at = $5
		   AND (created_at < $6 OR (instance <> '' AND NOT EXISTS (
		     SELECT 1 FROM leases WHERE leases.name = 'instance/' || idempotency_keys.instance AND leases.expires_at > $7)))`,
		token, s.cfg.Instance, scope, key, held, store.Now(now.Add(-s.cfg.IdempotencyStale)), store.Now(now))
	if err != nil {
		return nil, token, fmt.Errorf("take over idempotency key: %w", err)
	}
	if took == 0 {
		return nil, 0, ErrInProgress
	}
	return nil, token, nil
}

type restaurantRow struct {
	location geo.LatLng
	region   string
	hours    hours.Daily
	owner    string
}

// insertOrder prices req against the menu, takes stock (recording what it took), and writes the
// order, its lines, its first history row, its pending payment and the order.placed event.
func (s *Service) insertOrder(ctx context.Context, tx *store.Tx, p auth.Principal, customer string, req PlaceRequest) (Order, error) {
	now := s.cfg.Now()
	var r restaurantRow
	var mode string
	err := tx.QueryRowContext(ctx,
		`SELECT lat, lng, region, timezone, opens_minute, closes_minute, owner_id, delivery_mode FROM restaurants WHERE id = $1`, req.RestaurantID).
		Scan(&r.location.Lat, &r.location.Lng, &r.region, &r.hours.Timezone, &r.hours.Opens, &r.hours.Closes, &r.owner, &mode)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, fault.Field("body.restaurant_id", req.RestaurantID, "no such restaurant")
	}
	if err != nil {
		return Order{}, fmt.Errorf("read restaurant %s: %w", req.RestaurantID, err)
	}
	if !r.hours.OpenAt(now) {
		return Order{}, fault.Field("body.restaurant_id", req.RestaurantID, "the restaurant is closed now")
	}
	fulfilment := FulfilCourier
	if req.Fulfilment == FulfilCourier && mode == FulfilCarrier {
		return Order{}, fault.Field("body.fulfilment", req.Fulfilment, "this restaurant ships every order by carrier")
	}
	if req.Fulfilment == FulfilCarrier || mode == FulfilCarrier {
		fulfilment = FulfilCarrier
	}
	var address *Address
	if fulfilment == FulfilCarrier {
		if address, err = shipTo(ctx, tx, p, customer, req); err != nil {
			return Order{}, err
		}
		if req.Delivery.Lat == 0 && req.Delivery.Lng == 0 {
			req.Delivery = geo.LatLng{Lat: address.Lat, Lng: address.Lng}
		}
		if req.Delivery.Lat == 0 && req.Delivery.Lng == 0 {
			return Order{}, fault.Field("body.delivery", nil, "a carrier order needs the delivery point: give delivery, or an address with lat and lng")
		}
	} else if req.Delivery.Lat == 0 && req.Delivery.Lng == 0 {
		return Order{}, fault.Field("body.delivery", req.Delivery, "delivery needs a valid lat and lng")
	} else if d := geo.Distance(r.location, req.Delivery); d > s.cfg.MaxDeliveryM {
		// A carrier carries as far as it goes; the platform's couriers only so far.
		return Order{}, fault.Field("body.delivery", req.Delivery, "too far: %.1f km from the restaurant, the limit is %.1f km", d/1000, s.cfg.MaxDeliveryM/1000)
	}
	o := Order{
		ID: event.NewID("ord"), CustomerID: customer, RestaurantID: req.RestaurantID, Region: r.region,
		Status: Placed, Currency: s.cfg.Currency, Delivery: req.Delivery, PlacedBy: actorOf(p), Version: 1,
		CreatedAt: now, UpdatedAt: now, DeadlineAt: now.Add(s.cfg.PaymentGiveUp), DeliveryFee: s.cfg.DeliveryFee,
		Fulfilment: fulfilment, Address: address, owner: r.owner,
	}
	menu, err := menuItems(ctx, tx, req)
	if err != nil {
		return Order{}, err
	}
	for i, l := range req.Items {
		loc := fmt.Sprintf("body.items[%d].menu_item_id", i)
		m, ok := menu[l.MenuItemID]
		if !ok {
			return Order{}, fault.Field(loc, l.MenuItemID, "no such item on this restaurant's menu")
		}
		if !m.available {
			return Order{}, fault.Field(loc, l.MenuItemID, "%s is not available", m.name)
		}
		o.Items = append(o.Items, Item{MenuItemID: l.MenuItemID, Name: m.name, UnitPrice: m.price, Quantity: l.Quantity})
	}
	sub, ok := subtotal(o.Items, s.cfg.MaxOrderValue-max(o.DeliveryFee, 0))
	if !ok {
		return Order{}, fault.Field("body.items", nil, "an order may total at most %d minor units of %s, delivery included",
			s.cfg.MaxOrderValue, o.Currency)
	}
	o.Subtotal, o.Total = sub, sub+o.DeliveryFee
	takes := stockTakes(o, menu)
	if err := takeStock(ctx, tx, req.RestaurantID, takes, menu, now); err != nil {
		return Order{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
		customer, store.Now(now)); err != nil {
		return Order{}, fmt.Errorf("record customer: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total, currency,
		  delivery_lat, delivery_lng, placed_by, version, created_at, updated_at, deadline_at, fulfilment, delivery_address)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $15, $16, $17)`,
		o.ID, o.CustomerID, o.RestaurantID, o.Region, string(o.Status), o.Subtotal, o.DeliveryFee, o.Total, o.Currency,
		o.Delivery.Lat, o.Delivery.Lng, o.PlacedBy, store.Now(now), store.Now(now), store.Now(o.DeadlineAt),
		o.Fulfilment, encodeAddress(o.Address)); err != nil {
		return Order{}, fmt.Errorf("insert order: %w", err)
	}
	if err := insertLines(ctx, tx, o); err != nil {
		return Order{}, err
	}
	if err := reserve(ctx, tx, o.ID, takes, now); err != nil {
		return Order{}, err
	}
	if err := appendHistory(ctx, tx, o.ID, Placed, o.PlacedBy, now); err != nil {
		return Order{}, err
	}
	o.History = []Transition{{Status: Placed, Actor: o.PlacedBy, At: now}}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO payments (order_id, amount, currency, status, updated_at, due_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		o.ID, o.Total, o.Currency, string(payment.Pending), store.Now(now), store.Now(now.Add(s.cfg.PaymentRetryAfter))); err != nil {
		return Order{}, fmt.Errorf("insert payment: %w", err)
	}
	payload := event.Order{OrderID: o.ID, CustomerID: o.CustomerID, RestaurantID: o.RestaurantID,
		Status: string(Placed), Total: o.Total, Currency: o.Currency, At: now, OrderVersion: 1}
	if err := tx.EmitNew(ctx, event.OrderPlaced, o.Region, now, payload); err != nil {
		return Order{}, err
	}
	if p.Role == auth.Ops {
		if err := audit.Record(ctx, tx, o.PlacedBy, "order.place", "order:"+o.ID,
			map[string]string{"customer_id": o.CustomerID, "fulfilment": o.Fulfilment}, now); err != nil {
			return Order{}, err
		}
	}
	tx.AfterCommit(func() { s.cfg.Metrics.Orders.WithLabelValues(string(Placed)).Inc() })
	return o, nil
}

// subtotal prices items, or reports false when they come to more than limit (or limit is
// negative). It never computes a value above limit, so no price or quantity can overflow it.
func subtotal(items []Item, limit int64) (int64, bool) {
	if limit < 0 {
		return 0, false
	}
	var sum int64
	for _, it := range items {
		if it.UnitPrice < 0 || it.Quantity < 0 {
			return 0, false
		}
		if it.UnitPrice > 0 && int64(it.Quantity) > (limit-sum)/it.UnitPrice {
			return 0, false
		}
		sum += it.UnitPrice * int64(it.Quantity)
	}
	return sum, true
}

type menuItem struct {
	name      string
	price     int64
	available bool
	stock     sql.NullInt64
}

// menuItems reads, in one query, the restaurant's menu items that req names.
func menuItems(ctx context.Context, tx *store.Tx, req PlaceRequest) (map[string]menuItem, error) {
	args := []any{req.RestaurantID}
	var in strings.Builder
	seen := map[string]bool{}
	for _, l := range req.Items {
		if seen[l.MenuItemID] {
			continue
		}
		seen[l.MenuItemID] = true
		args = append(args, l.MenuItemID)
		if len(args) > 2 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", len(args))
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT id, name, price, available, stock FROM menu_items WHERE restaurant_id = $1 AND id IN (`+in.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read menu items: %w", err)
	}
	defer rows.Close()
	out := map[string]menuItem{}
	for rows.Next() {
		var id string
		var m menuItem
		if err := rows.Scan(&id, &m.name, &m.price, &m.available, &m.stock); err != nil {
			return nil, fmt.Errorf("scan menu item: %w", err)
		}
		out[id] = m
	}
	return out, rows.Err()
}

// insertLines writes all of o's lines in one statement.
func insertLines(ctx context.Context, tx *store.Tx, o Order) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO order_items (order_id, line, menu_item_id, name, unit_price, quantity) VALUES `)
	args := make([]any, 0, 6*len(o.Items))
	for i, it := range o.Items {
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
		args = append(args, o.ID, i+1, it.MenuItemID, it.Name, it.UnitPrice, it.Quantity)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert order lines: %w", err)
	}
	return nil
}

// shipTo is the postal address a carrier order ships to: the request's, else the customer's on
// record (customers.address, kept by ops with PUT /v1/customers/{id}).
func shipTo(ctx context.Context, tx *store.Tx, p auth.Principal, customer string, req PlaceRequest) (*Address, error) {
	if req.Address != nil {
		return req.Address, nil
	}
	var raw string
	err := tx.QueryRowContext(ctx, `SELECT address FROM customers WHERE id = $1`, customer).Scan(&raw)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read address of customer %s: %w", customer, err)
	}
	var a Address
	if raw == "" || json.Unmarshal([]byte(raw), &a) != nil || a.Line1 == "" {
		if p.Role == auth.Ops {
			return nil, fault.Field("body.address", nil, "a carrier order needs a postal address: give address, or record one on the customer (PUT /v1/customers/{id})")
		}
		return nil, fault.Field("body.address", nil, "this restaurant ships by carrier: give the postal address to ship to")
	}
	return &a, nil
}

// encodeAddress is an address as orders.delivery_address keeps it ("" for none).
func encodeAddress(a *Address) string {
	if a == nil {
		return ""
	}
	b, _ := json.Marshal(a) // a struct of strings and floats always encodes
	return string(b)
}
