package catalog

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezone checks must not depend on the host having /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/hours"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Restaurant is a place that cooks. Open hours are minutes after local midnight in Timezone:
// it is open from OpensMinute up to (not including) ClosesMinute; ClosesMinute < OpensMinute
// means it stays open past midnight, and equal minutes (0 and 1440, say) mean always open.
type Restaurant struct {
	ID           string
	OwnerID      string
	Name         string
	Location     geo.LatLng
	Region       string // set by the catalog from Location
	Timezone     string // IANA name; empty means UTC
	OpensMinute  int
	ClosesMinute int
	PrepMinutes  int
	MenuVersion  int64 // set by the catalog; bumped by every menu write
	// DeliveryMode is how its orders reach customers: "courier" (the platform's couriers, the
	// default) or "carrier" (every order ships through the outside carrier).
	DeliveryMode string
	// CarrierFallbackSeconds > 0 lets an order no courier took within that many seconds of
	// acceptance ship by carrier instead; 0 never.
	CarrierFallbackSeconds int
}

// OpenAt reports whether r is open at t, judged by the wall clock in r's timezone. An unknown
// timezone (rejected on upsert, so only for hand-built values) is read as UTC.
func (r Restaurant) OpenAt(t time.Time) bool {
	return hours.Daily{Timezone: r.Timezone, Opens: r.OpensMinute, Closes: r.ClosesMinute}.OpenAt(t)
}

const (
	minutesPerDay  = 24 * 60
	maxNameLen     = 200
	maxOwnerLen    = 128
	maxPrepMinutes = 24 * 60
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// validate checks r as given to PutRestaurant and fills defaults. Locations name the HTTP
// request fields.
func (r *Restaurant) validate() error {
	if !idPattern.MatchString(r.ID) {
		return fault.Field("path.id", r.ID, "must match %s", idPattern)
	}
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case r.Name == "":
		return fault.Field("body.name", r.Name, "must not be empty")
	case utf8.RuneCountInString(r.Name) > maxNameLen:
		return fault.Field("body.name", r.Name, "must be at most %d characters", maxNameLen)
	case !utf8.ValidString(r.Name):
		return fault.Field("body.name", r.Name, "must be UTF-8")
	}
	if len(r.OwnerID) > maxOwnerLen {
		return fault.Field("body.owner_id", r.OwnerID, "must be at most %d bytes", maxOwnerLen)
	}
	if !validLat(r.Location.Lat) {
		return fault.Field("body.lat", jsonSafe(r.Location.Lat), "must be a latitude in [-90, 90]")
	}
	if !validLng(r.Location.Lng) {
		return fault.Field("body.lng", jsonSafe(r.Location.Lng), "must be a longitude in [-180, 180]")
	}
	if r.Timezone == "" {
		r.Timezone = "UTC"
	}
	if _, err := hours.Location(r.Timezone); err != nil {
		return fault.Field("body.timezone", r.Timezone, "must be an IANA time zone such as Asia/Kolkata")
	}
	if r.OpensMinute < 0 || r.OpensMinute > minutesPerDay {
		return fault.Field("body.opens_minute", r.OpensMinute, "must be in [0, %d]", minutesPerDay)
	}
	if r.ClosesMinute < 0 || r.ClosesMinute > minutesPerDay {
		return fault.Field("body.closes_minute", r.ClosesMinute, "must be in [0, %d]", minutesPerDay)
	}
	switch r.DeliveryMode {
	case "", "courier", "carrier":
	default:
		return fault.Field("body.delivery_mode", r.DeliveryMode, "delivery_mode is courier or carrier")
	}
	if r.CarrierFallbackSeconds < 0 || r.CarrierFallbackSeconds > 86400 {
		return fault.Field("body.carrier_fallback_seconds", r.CarrierFallbackSeconds, "must be in [0, 86400]")
	}
	if r.PrepMinutes < 0 || r.PrepMinutes > maxPrepMinutes {
		return fault.Field("body.prep_minutes", r.PrepMinutes, "must be in [0, %d]", maxPrepMinutes)
	}
	return nil
}

// jsonSafe is v as a problem detail's value: JSON has no NaN or infinities, so those are
// given as text.
func jsonSafe(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return v
}

func validLat(v float64) bool { return v >= -90 && v <= 90 }   // false for NaN
func validLng(v float64) bool { return v >= -180 && v <= 180 } // false for NaN

// PutRestaurant creates or replaces restaurant r.ID. A restaurant principal owns what it
// creates (r.OwnerID must be empty or its subject) and may replace only its own restaurants.
// Ops may write any restaurant and must name the owner when creating one; an empty OwnerID
// on replace keeps the current owner. Region and MenuVersion are the catalog's, not the caller's.
func (s *Service) PutRestaurant(ctx context.Context, p auth.Principal, r Restaurant) (Restaurant, error) {
	switch p.Role {
	case auth.Restaurant:
		if r.OwnerID != "" && r.OwnerID != p.Subject {
			return Restaurant{}, fault.New(fault.Forbidden, "only ops may set owner_id")
		}
		r.OwnerID = p.Subject
	case auth.Ops:
	default:
		return Restaurant{}, mayWrite(p)
	}
	r.DeliveryMode = deliveryMode(r)
	if err := r.validate(); err != nil {
		return Restaurant{}, err
	}
	region, err := s.regions.Region(r.Location)
	if err != nil {
		return Restaurant{}, fmt.Errorf("put restaurant %s: %w", r.ID, err)
	}
	r.Region = region
	now := store.Now(s.now())
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		prevOwner, version, found, err := restaurantOwner(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if !found {
			if r.OwnerID == "" {
				return fault.Field("body.owner_id", r.OwnerID, "is required when ops creates a restaurant")
			}
			r.MenuVersion = 0
			if err := insertRestaurant(ctx, tx, r, now); err != nil {
				return err
			}
			return auditOps(ctx, tx, p, "restaurant.create", r, s.now())
		}
		if err := canWrite(p, prevOwner); err != nil {
			return err
		}
		if r.OwnerID == "" {
			r.OwnerID = prevOwner
		}
		if r.OwnerID != prevOwner {
			tx.AfterCommit(func() {
				s.logger.InfoContext(ctx, "restaurant owner changed", "restaurant", r.ID,
					"from", prevOwner, "to", r.OwnerID, "by", p.Subject)
			})
		}
		r.MenuVersion = version
		if err := updateRestaurant(ctx, tx, r, prevOwner, now); err != nil {
			return err
		}
		return auditOps(ctx, tx, p, "restaurant.update", r, s.now())
	})
	if err != nil {
		return Restaurant{}, fmt.Errorf("put restaurant %s: %w", r.ID, err)
	}
	return r, nil
}

// Restaurant returns restaurant id.
func (s *Service) Restaurant(ctx context.Context, id string) (Restaurant, error) {
	r, err := getRestaurant(ctx, s.db, id)
	if err != nil {
		return Restaurant{}, fmt.Errorf("restaurant %s: %w", id, err)
	}
	return r, nil
}

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
	DefaultRadiusM   = 5000
	MaxRadiusM       = 50000
	// MaxNearby bounds how many restaurants one nearby search considers: the MaxNearby nearest
	// (by an equirectangular estimate) are ranked exactly and paged; the rest are not listed.
	MaxNearby = 5000
)

// ListQuery selects restaurants. Without Near they come in ID order; with Near, the ones
// within RadiusM metres come nearest first.
type ListQuery struct {
	Near    *geo.LatLng
	RadiusM float64 // default DefaultRadiusM, at most MaxRadiusM; only with Near
	Cursor  string  // Page.Next of the previous page; empty for the first
	Limit   int     // default DefaultListLimit, at most MaxListLimit
}

// Listing is one restaurant in a Page.
type Listing struct {
	Restaurant
	OpenNow   bool
	DistanceM float64 // metres from ListQuery.Near; zero without it
}

// Page is one page of restaurants. Next is the cursor for the following page, empty on the last.
// Stale marks the last copy of the page read, answered because the store could not be reached
// (OpenNow is worked out afresh even then).
type Page struct {
	Restaurants []Listing
	Next        string
	Stale       bool `json:"-"`
}

// List returns one page of restaurants; when the store can't be reached, the last copy of the
// same page read, marked Stale.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return Page{}, fault.Field("query.limit", q.Limit, "must be in [1, %d]", MaxListLimit)
	}
	now := s.now()
	key := fmt.Sprintf("restaurants:id:%s:%d", q.Cursor, q.Limit)
	if q.Near != nil {
		key = fmt.Sprintf("restaurants:near:%v,%v:%v:%s:%d", q.Near.Lat, q.Near.Lng, q.RadiusM, q.Cursor, q.Limit)
	}
	page, stale, err := cache.Read(ctx, s.copies, key, func(ctx context.Context) (Page, int64, error) {
		var page Page
		err := s.db.Do(ctx, func(ctx context.Context) error {
			var err error
			if q.Near == nil {
				page, err = s.listByID(ctx, q, now)
			} else {
				page, err = s.listNearby(ctx, q, now)
			}
			return err
		})
		return page, now.UnixMilli(), err
	})
	if err != nil || !stale {
		return page, err
	}
	for i := range page.Restaurants {
		page.Restaurants[i].OpenNow = page.Restaurants[i].OpenAt(now)
	}
	page.Stale = true
	return page, nil
}

func (s *Service) listByID(ctx context.Context, q ListQuery, now time.Time) (Page, error) {
	after := ""
	if q.Cursor != "" {
		var ok bool
		if after, ok = decodeCursor(q.Cursor, "id"); !ok {
			return Page{}, badCursor(q.Cursor)
		}
	}
	rs, err := restaurantsAfter(ctx, s.db, after, q.Limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list restaurants: %w", err)
	}
	var page Page
	if len(rs) > q.Limit {
		rs = rs[:q.Limit]
		page.Next = encodeCursor("id", rs[len(rs)-1].ID)
	}
	page.Restaurants = make([]Listing, len(rs))
	for i, r := range rs {
		page.Restaurants[i] = Listing{Restaurant: r, OpenNow: r.OpenAt(now)}
	}
	return page, nil
}

func (s *Service) listNearby(ctx context.Context, q ListQuery, now time.Time) (Page, error) {
	c := *q.Near
	if !validLat(c.Lat) {
		return Page{}, fault.Field("query.lat", jsonSafe(c.Lat), "must be a latitude in [-90, 90]")
	}
	if !validLng(c.Lng) {
		return Page{}, fault.Field("query.lng", jsonSafe(c.Lng), "must be a longitude in [-180, 180]")
	}
	if q.RadiusM == 0 {
		q.RadiusM = DefaultRadiusM
	}
	if !(q.RadiusM > 0 && q.RadiusM <= MaxRadiusM) {
		return Page{}, fault.Field("query.radius_m", jsonSafe(q.RadiusM), "must be in (0, %d]", MaxRadiusM)
	}
	offset := 0
	if q.Cursor != "" {
		v, ok := decodeCursor(q.Cursor, "off")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return Page{}, badCursor(q.Cursor)
		}
		offset = n
	}
	candidates, err := restaurantsInBox(ctx, s.db, c, boxAround(c, q.RadiusM), MaxNearby)
	if err != nil {
		return Page{}, fmt.Errorf("nearby restaurants: %w", err)
	}
	near := make([]Listing, 0, len(candidates))
	for _, r := range candidates {
		if d := geo.Distance(c, r.Location); d <= q.RadiusM {
			near = append(near, Listing{Restaurant: r, DistanceM: d})
		}
	}
	slices.SortFunc(near, func(a, b Listing) int {
		return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), strings.Compare(a.ID, b.ID))
	})
	var page Page
	if offset >= len(near) {
		return page, nil
	}
	end := offset + q.Limit
	if end < len(near) {
		page.Next = encodeCursor("off", strconv.Itoa(end))
	} else {
		end = len(near)
	}
	page.Restaurants = near[offset:end]
	for i := range page.Restaurants {
		page.Restaurants[i].OpenNow = page.Restaurants[i].OpenAt(now)
	}
	return page, nil
}

// box is a latitude/longitude rectangle.
type box struct{ minLat, maxLat, minLng, maxLng float64 }

// boxAround returns a rectangle holding every point within radius metres of c (the spherical
// cap's exact bounds, padded slightly). Near a pole or across the antimeridian it spans all
// longitudes: a looser prefilter, still exact after the haversine check.
func boxAround(c geo.LatLng, radius float64) box {
	δ := radius / geo.EarthRadius // angular radius, radians
	dLat := δ * 180 / math.Pi
	b := box{minLat: c.Lat - dLat, maxLat: c.Lat + dLat, minLng: -180, maxLng: 180}
	if b.minLat <= -90 || b.maxLat >= 90 {
		b.minLat, b.maxLat = max(b.minLat, -90), min(b.maxLat, 90)
		return b.pad()
	}
	x := math.Sin(δ) / math.Cos(c.Lat*math.Pi/180)
	if x >= 1 {
		return b.pad()
	}
	dLng := math.Asin(x) * 180 / math.Pi
	if c.Lng-dLng < -180 || c.Lng+dLng > 180 {
		return b.pad()
	}
	b.minLng, b.maxLng = c.Lng-dLng, c.Lng+dLng
	return b.pad()
}

func (b box) pad() box {
	const ε = 1e-6 // degrees, about 0.1 m: covers rounding in the bounds and in stored REALs
	b.minLat, b.maxLat, b.minLng, b.maxLng = b.minLat-ε, b.maxLat+ε, b.minLng-ε, b.maxLng+ε
	return b
}

// Cursors are opaque to clients: base64 of "kind:value", so a cursor from one kind of listing
// is refused by the other.
func encodeCursor(kind, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + v))
}

func decodeCursor(c, kind string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	v, ok := strings.CutPrefix(string(b), kind+":")
	return v, ok && v != ""
}

func badCursor(c string) error {
	return fault.Field("query.cursor", c, "is not a cursor from this listing")
}

// auditOps records an operator's write of restaurant r in the audit log (an owner's own writes
// are not someone else's data).
func auditOps(ctx context.Context, tx *store.Tx, p auth.Principal, action string, r Restaurant, at time.Time) error {
	if p.Role != auth.Ops {
		return nil
	}
	return audit.Record(ctx, tx, string(p.Role)+":"+p.Subject, action, "restaurant:"+r.ID,
		map[string]any{"owner_id": r.OwnerID, "delivery_mode": r.DeliveryMode, "carrier_fallback_seconds": r.CarrierFallbackSeconds}, at)
}
