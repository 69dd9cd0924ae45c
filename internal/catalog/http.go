package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

var writers = []auth.Role{auth.Restaurant, auth.Ops}

// Register adds the catalog's routes to srv.
func (s *Service) Register(srv *httpapi.Server) {
	tags := []string{"catalog"}
	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-restaurants", Method: http.MethodGet, Path: "/v1/restaurants",
		Summary: "list restaurants", Tags: tags,
		Description: "In ID order, or nearest first with `distance_m` set when lat and lng are given.",
	}, httpapi.Public, s.httpList)
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-restaurant", Method: http.MethodGet, Path: "/v1/restaurants/{id}",
		Summary: "get a restaurant", Tags: tags,
	}, httpapi.Public, s.httpGet)
	httpapi.Handle(srv, huma.Operation{
		OperationID: "put-restaurant", Method: http.MethodPut, Path: "/v1/restaurants/{id}",
		Summary: "create or replace a restaurant", Tags: tags,
	}, writers, s.httpPut)
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-menu", Method: http.MethodGet, Path: "/v1/restaurants/{id}/menu",
		Summary: "get a restaurant's menu", Tags: tags,
		Description: "Carries a strong ETag; If-None-Match with it answers 304.",
	}, httpapi.Public, s.httpMenu)
	httpapi.Handle(srv, huma.Operation{
		OperationID: "put-menu", Method: http.MethodPut, Path: "/v1/restaurants/{id}/menu",
		Summary: "upsert menu items", Tags: tags,
	}, writers, s.httpPutMenu)
	httpapi.Handle(srv, huma.Operation{
		OperationID: "patch-menu-item", Method: http.MethodPatch, Path: "/v1/restaurants/{id}/menu/items/{item_id}",
		Summary: "set a menu item's availability or stock", Tags: tags,
	}, writers, s.httpPatchItem)
}

// restaurantJSON is a restaurant as clients see it. OwnerID is shown only to writers.
type restaurantJSON struct {
	ID           string  `json:"id"`
	OwnerID      string  `json:"owner_id,omitempty"`
	Name         string  `json:"name"`
	Lat          float64 `json:"lat"`
	Lng          float64 `json:"lng"`
	Region       string  `json:"region"`
	Timezone     string  `json:"timezone"`
	OpensMinute  int     `json:"opens_minute"`
	ClosesMinute int     `json:"closes_minute"`
	PrepMinutes  int     `json:"prep_minutes"`
	DeliveryMode string  `json:"delivery_mode"`
	// CarrierFallbackSeconds: see Restaurant.
	CarrierFallbackSeconds int      `json:"carrier_fallback_seconds,omitempty"`
	OpenNow                bool     `json:"open_now"`
	DistanceM              *float64 `json:"distance_m,omitempty"`
}

func toJSON(r Restaurant, openNow bool) restaurantJSON {
	return restaurantJSON{
		ID: r.ID, Name: r.Name, Lat: r.Location.Lat, Lng: r.Location.Lng, Region: r.Region,
		Timezone: r.Timezone, OpensMinute: r.OpensMinute, ClosesMinute: r.ClosesMinute,
		PrepMinutes: r.PrepMinutes, OpenNow: openNow, DeliveryMode: deliveryMode(r), CarrierFallbackSeconds: r.CarrierFallbackSeconds,
	}
}

// listInput's float parameters carry no minimum/maximum tags: huma parses "NaN" and "Inf" as
// floats and would echo them in its problem details, which JSON can't encode. Resolve checks
// them instead and echoes the raw text.
type listInput struct {
	Lat     float64 `query:"lat" doc:"Latitude to search near, in [-90, 90]; needs lng."`
	Lng     float64 `query:"lng" doc:"Longitude to search near, in [-180, 180]; needs lat."`
	RadiusM float64 `query:"radius_m" doc:"Search radius in metres, in (0, 50000], with lat and lng; default 5000."`
	Cursor  string  `query:"cursor" maxLength:"256" doc:"next_cursor of the previous page."`
	Limit   int     `query:"limit" minimum:"1" maximum:"100" default:"20"`

	near bool // lat and lng were given (0 is a real latitude, so presence is what counts)
}

// Resolve insists on lat and lng together and on finite numbers in range.
func (in *listInput) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	q := u.Query()
	lat, lng, radius := q.Get("lat") != "", q.Get("lng") != "", q.Get("radius_m") != ""
	detail := func(name, msg string) []error {
		return []error{&huma.ErrorDetail{Location: "query." + name, Message: msg, Value: q.Get(name)}}
	}
	switch {
	case lat && !lng:
		return detail("lng", "is required with lat")
	case lng && !lat:
		return detail("lat", "is required with lng")
	case radius && !lat:
		return detail("radius_m", "needs lat and lng")
	case lat && !validLat(in.Lat):
		return detail("lat", "must be a latitude in [-90, 90]")
	case lng && !validLng(in.Lng):
		return detail("lng", "must be a longitude in [-180, 180]")
	case radius && !(in.RadiusM > 0 && in.RadiusM <= MaxRadiusM):
		return detail("radius_m", fmt.Sprintf("must be in (0, %d]", MaxRadiusM))
	}
	in.near = lat && lng
	return nil
}

type listOutput struct {
	httpapi.StaleHeaders
	Body struct {
		Restaurants []restaurantJSON `json:"restaurants"`
		NextCursor  string           `json:"next_cursor,omitempty" doc:"Cursor for the next page; absent on the last."`
	}
}

func (s *Service) httpList(ctx context.Context, _ auth.Principal, in *listInput) (*listOutput, error) {
	q := ListQuery{RadiusM: in.RadiusM, Cursor: in.Cursor, Limit: in.Limit}
	if in.near {
		q.Near = &geo.LatLng{Lat: in.Lat, Lng: in.Lng}
	}
	page, err := s.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &listOutput{StaleHeaders: httpapi.Stale(page.Stale)}
	out.Body.NextCursor = page.Next
	out.Body.Restaurants = make([]restaurantJSON, len(page.Restaurants))
	for i, l := range page.Restaurants {
		j := toJSON(l.Restaurant, l.OpenNow)
		if q.Near != nil {
			d := math.Round(l.DistanceM)
			j.DistanceM = &d
		}
		out.Body.Restaurants[i] = j
	}
	return out, nil
}

type idPath struct {
	ID string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
}

type restaurantOutput struct {
	Body restaurantJSON
}

func (s *Service) httpGet(ctx context.Context, _ auth.Principal, in *idPath) (*restaurantOutput, error) {
	r, err := s.Restaurant(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &restaurantOutput{Body: toJSON(r, r.OpenAt(s.now()))}, nil
}

type putRestaurantInput struct {
	ID   string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	Body struct {
		OwnerID      string  `json:"owner_id,omitempty" maxLength:"128" doc:"Ops only: the owner's token subject. Required when ops creates a restaurant."`
		Name         string  `json:"name" minLength:"1" maxLength:"200"`
		Lat          float64 `json:"lat" minimum:"-90" maximum:"90"`
		Lng          float64 `json:"lng" minimum:"-180" maximum:"180"`
		Timezone     string  `json:"timezone,omitempty" maxLength:"64" default:"UTC" doc:"IANA time zone of the open hours."`
		OpensMinute  int     `json:"opens_minute,omitempty" minimum:"0" maximum:"1440" doc:"Minutes after local midnight."`
		ClosesMinute int     `json:"closes_minute,omitempty" minimum:"0" maximum:"1440" doc:"Minutes after local midnight; before opens_minute means past midnight, equal means always open."`
		PrepMinutes  int     `json:"prep_minutes,omitempty" minimum:"0" maximum:"1440" default:"15"`
		DeliveryMode string  `json:"delivery_mode,omitempty" enum:"courier,carrier" default:"courier" doc:"courier: the platform's couriers deliver; carrier: every order ships through the outside carrier."`
		// CarrierFallbackSeconds: see Restaurant.
		CarrierFallbackSeconds int `json:"carrier_fallback_seconds,omitempty" minimum:"0" maximum:"86400" doc:"Above 0: an order no courier took within this many seconds of acceptance ships by carrier instead."`
	}
}

func (s *Service) httpPut(ctx context.Context, p auth.Principal, in *putRestaurantInput) (*restaurantOutput, error) {
	b := in.Body
	r, err := s.PutRestaurant(ctx, p, Restaurant{
		ID: in.ID, OwnerID: b.OwnerID, Name: b.Name, Location: geo.LatLng{Lat: b.Lat, Lng: b.Lng},
		Timezone: b.Timezone, OpensMinute: b.OpensMinute, ClosesMinute: b.ClosesMinute, PrepMinutes: b.PrepMinutes,
		DeliveryMode: b.DeliveryMode, CarrierFallbackSeconds: b.CarrierFallbackSeconds,
	})
	if err != nil {
		return nil, err
	}
	j := toJSON(r, r.OpenAt(s.now()))
	j.OwnerID = r.OwnerID
	return &restaurantOutput{Body: j}, nil
}

type itemJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       int64  `json:"price"`
	Available   bool   `json:"available"`
	Stock       *int   `json:"stock" doc:"null when unlimited"`
}

type menuJSON struct {
	RestaurantID string     `json:"restaurant_id"`
	Version      int64      `json:"version"`
	Currency     string     `json:"currency"`
	Items        []itemJSON `json:"items"`
}

func itemToJSON(it Item) itemJSON {
	return itemJSON{ID: it.ID, Name: it.Name, Description: it.Description, Price: it.Price,
		Available: it.Available, Stock: it.Stock}
}

func menuToJSON(m Menu) *menuJSON {
	j := &menuJSON{RestaurantID: m.RestaurantID, Version: m.Version, Currency: m.Currency,
		Items: make([]itemJSON, len(m.Items))}
	for i, it := range m.Items {
		j.Items[i] = itemToJSON(it)
	}
	return j
}

type menuInput struct {
	ID          string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	IfNoneMatch string `header:"If-None-Match" doc:"ETags the client holds; a match answers 304."`
}

type menuOutput struct {
	httpapi.StaleHeaders
	Status       int
	ETag         string `header:"ETag"`
	CacheControl string `header:"Cache-Control"`
	Body         *menuJSON
}

func (s *Service) httpMenu(ctx context.Context, _ auth.Principal, in *menuInput) (*menuOutput, error) {
	m, err := s.Menu(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := &menuOutput{Status: http.StatusOK, ETag: m.ETag(), CacheControl: "no-cache", StaleHeaders: httpapi.Stale(m.Stale)}
	if etagMatches(in.IfNoneMatch, out.ETag) {
		out.Status = http.StatusNotModified
		return out, nil
	}
	out.Body = menuToJSON(m)
	return out, nil
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2) of header to etag.
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

type itemInputJSON struct {
	ID          string `json:"id,omitempty" pattern:"^[A-Za-z0-9_.:-]{1,64}$" doc:"Omit to create an item."`
	Name        string `json:"name" minLength:"1" maxLength:"200"`
	Description string `json:"description,omitempty" maxLength:"2000"`
	Price       int64  `json:"price" minimum:"0" maximum:"10000000" doc:"Minor units of the menu currency."`
	Available   *bool  `json:"available,omitempty" doc:"Default true."`
	Stock       *int   `json:"stock,omitempty" minimum:"0" maximum:"1000000" doc:"Omit or null for unlimited."`
}

type putMenuInput struct {
	ID   string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	Body struct {
		Items []itemInputJSON `json:"items" maxItems:"500"`
	}
}

type putMenuOutput struct {
	ETag string `header:"ETag"`
	Body *menuJSON
}

func (s *Service) httpPutMenu(ctx context.Context, p auth.Principal, in *putMenuInput) (*putMenuOutput, error) {
	items := make([]ItemInput, len(in.Body.Items))
	for i, it := range in.Body.Items {
		items[i] = ItemInput{ID: it.ID, Name: it.Name, Description: it.Description, Price: it.Price,
			Available: it.Available, Stock: it.Stock}
	}
	m, err := s.PutMenu(ctx, p, in.ID, items)
	if err != nil {
		return nil, err
	}
	return &putMenuOutput{ETag: m.ETag(), Body: menuToJSON(m)}, nil
}

type patchItemInput struct {
	ID     string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	ItemID string `path:"item_id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	Body   struct {
		Available *bool         `json:"available,omitempty"`
		Stock     optionalStock `json:"stock,omitempty"`
	}
}

// optionalStock is a PATCH's stock, which has three meanings: absent leaves the stock as it is,
// null makes it unlimited, and a number sets the count. A *int cannot tell the first two apart
// (both decode to nil), so the field records that it was sent.
type optionalStock struct {
	Set   bool
	Value *int
}

// UnmarshalJSON runs only for a stock the body carries, null included.
func (o *optionalStock) UnmarshalJSON(b []byte) error {
	o.Set, o.Value = true, nil
	if string(b) == "null" {
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	o.Value = &n
	return nil
}

// Schema implements huma.SchemaProvider: an integer in range, or null.
func (optionalStock) Schema(huma.Registry) *huma.Schema {
	lo, hi := 0.0, float64(MaxStock)
	return &huma.Schema{
		Type: huma.TypeInteger, Format: "int64", Nullable: true, Minimum: &lo, Maximum: &hi,
		Description: "Items left to sell; null makes the stock unlimited. Absent leaves it as it is.",
	}
}

type itemOutput struct {
	Body itemJSON
}

func (s *Service) httpPatchItem(ctx context.Context, p auth.Principal, in *patchItemInput) (*itemOutput, error) {
	it, err := s.PatchItem(ctx, p, in.ID, in.ItemID, ItemPatch{
		Available: in.Body.Available, SetStock: in.Body.Stock.Set, Stock: in.Body.Stock.Value,
	})
	if err != nil {
		return nil, err
	}
	return &itemOutput{Body: itemToJSON(it)}, nil
}
