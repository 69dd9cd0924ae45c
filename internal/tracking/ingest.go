package tracking

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// Fix is one GPS fix a courier reports.
type Fix struct {
	Lat      float64   `json:"lat" minimum:"-90" maximum:"90"`
	Lng      float64   `json:"lng" minimum:"-180" maximum:"180"`
	At       time.Time `json:"at,omitzero" doc:"when the fix was taken; default now, and never later than now"`
	SpeedMPS float64   `json:"speed_mps,omitzero" minimum:"0" doc:"speed in metres per second"`
	Heading  float64   `json:"heading,omitzero" minimum:"0" maximum:"360" doc:"degrees clockwise from north"`
}

type locationsInput struct {
	Body struct {
		Fixes []Fix `json:"fixes" minItems:"1" doc:"fixes in any order; the newest becomes the courier's position"`
	}
}

type locationsOutput struct {
	Body struct {
		Accepted int `json:"accepted" doc:"how many fixes were taken"`
	}
}

// Register adds the location ingest route and the order event stream to srv.
func (s *Service) Register(srv *httpapi.Server) {
	httpapi.Handle(srv, huma.Operation{
		OperationID: "post-courier-locations", Method: http.MethodPost, Path: "/v1/courier/locations",
		Summary: "Report GPS fixes", Tags: []string{"tracking"}, DefaultStatus: http.StatusAccepted,
		Description: fmt.Sprintf("Takes 1 to %d fixes. The newest becomes the courier's last known position "+
			"and is streamed to the watchers of the order the courier carries.", s.cfg.MaxFixesPerRequest),
		Errors: []int{http.StatusUnprocessableEntity},
	}, []auth.Role{auth.Courier}, func(ctx context.Context, p auth.Principal, in *locationsInput) (*locationsOutput, error) {
		n, err := s.Ingest(ctx, p.Subject, in.Body.Fixes)
		if err != nil {
			return nil, err
		}
		out := &locationsOutput{}
		out.Body.Accepted = n
		return out, nil
	})
	srv.Mux().HandleFunc("GET /v1/orders/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		s.serveEvents(w, r, srv.WriteError)
	})
	// The stream is a plain handler (huma would buffer it); it is still described in the
	// OpenAPI document so clients can find it.
	srv.API().OpenAPI().AddOperation(&huma.Operation{
		OperationID: "stream-order-events", Method: http.MethodGet, Path: "/v1/orders/{id}/events",
		Summary: "Watch an order", Tags: []string{"tracking"},
		Description: "Server-sent events for the order's customer (or ops): `status` events " +
			"`{order_id,status,at}` on every change and, while a courier carries the order, `location` events " +
			"`{courier_id,lat,lng,at}` with its latest position (coalesced for slow clients). The first events " +
			"are the current state; the stream ends after a final status. A status event's `id` is the order's " +
			"version: each status comes once, never an older after a newer, and a client reconnecting with " +
			"`Last-Event-ID` gets only newer ones (204 when it already has the final status). Location events " +
			"carry no id.",
		Security: []map[string][]string{{"bearer": {}}},
		Parameters: []*huma.Param{
			{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "Last-Event-ID", In: "header", Description: "the id of the last status event the client got", Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{
			"200": {Description: "An event stream.", Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}}},
			"204": {Description: "Last-Event-ID says the client already has the order's final status: stop reconnecting."},
			"401": {Description: "No valid bearer token."},
			"403": {Description: "Role may not watch orders."},
			"404": {Description: "No such order for this customer."},
		},
	})
}

// Ingest validates courierID's fixes, keeps the newest as its last known position and
// publishes it on core NATS as courier.location in its region. It returns how many fixes it
// took. It never touches SQL.
func (s *Service) Ingest(ctx context.Context, courierID string, fixes []Fix) (int, error) {
	switch {
	case len(fixes) == 0:
		return 0, fault.Field("body.fixes", len(fixes), "must hold at least one fix")
	case len(fixes) > s.cfg.MaxFixesPerRequest:
		return 0, fault.Field("body.fixes", len(fixes), "must hold at most %d fixes", s.cfg.MaxFixesPerRequest)
	}
	now := s.cfg.Now().UTC()
	newest := -1
	var latest event.Location
	for i, f := range fixes {
		if err := f.validate(fmt.Sprintf("body.fixes[%d]", i)); err != nil {
			return 0, err
		}
		at := f.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		if newest < 0 || !at.Before(latest.At) {
			newest = i
			latest = event.Location{CourierID: courierID, Lat: f.Lat, Lng: f.Lng, SpeedMPS: f.SpeedMPS, Heading: f.Heading, At: at.UTC()}
		}
	}
	region, err := s.cfg.Regions.Region(geo.LatLng{Lat: latest.Lat, Lng: latest.Lng})
	if err != nil {
		return 0, fault.Field(fmt.Sprintf("body.fixes[%d].lat", newest), latest.Lat, "no region for this position")
	}
	s.remember(latest)
	data, err := json.Marshal(latest)
	if err != nil {
		return 0, fmt.Errorf("tracking: encode location: %w", err)
	}
	if err := s.bus.PublishCore(event.Subject(region, event.CourierLocation), data); err != nil {
		s.log.WarnContext(ctx, "publish location", "courier_id", courierID, "err", err)
		return 0, errStreamDown
	}
	s.cfg.Metrics.LocationFixes.Add(float64(len(fixes)))
	return len(fixes), nil
}

// errStreamDown is returned when a fix can't be published; the courier should send it again.
var errStreamDown = fault.New(fault.Unavailable, "location stream unavailable, try again")

func (f Fix) validate(loc string) error {
	switch {
	case !(f.Lat >= -90 && f.Lat <= 90):
		return fault.Field(loc+".lat", f.Lat, "must be between -90 and 90")
	case !(f.Lng >= -180 && f.Lng <= 180):
		return fault.Field(loc+".lng", f.Lng, "must be between -180 and 180")
	case !(f.SpeedMPS >= 0) || math.IsInf(f.SpeedMPS, 0):
		return fault.Field(loc+".speed_mps", f.SpeedMPS, "must be a speed of 0 or more")
	case !(f.Heading >= 0 && f.Heading <= 360):
		return fault.Field(loc+".heading", f.Heading, "must be between 0 and 360")
	}
	return nil
}
