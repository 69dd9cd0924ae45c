package order

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// OrderJSON is an order as clients see it.
type OrderJSON struct {
	ID           string           `json:"id"`
	Status       Status           `json:"status"`
	Code         string           `json:"code" doc:"A short code for the order, to call out at the counter: the last six characters of its ID."`
	CustomerID   string           `json:"customer_id,omitempty" doc:"The customer and ops only."`
	RestaurantID string           `json:"restaurant_id"`
	Items        []ItemJSON       `json:"items"`
	Subtotal     int64            `json:"subtotal"`
	DeliveryFee  int64            `json:"delivery_fee"`
	Total        int64            `json:"total"`
	Currency     string           `json:"currency"`
	Delivery     *LatLngJSON      `json:"delivery,omitempty" doc:"The exact drop-off point: the customer and ops; its courier only while carrying the order; never the restaurant."`
	Fulfilment   string           `json:"fulfilment" enum:"courier,carrier" doc:"courier: the platform's couriers; carrier: an outside carrier."`
	Address      *Address         `json:"address,omitempty" doc:"The postal address a carrier order ships to: the customer and ops; its courier only while carrying the order."`
	CourierID    string           `json:"courier_id,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	PlacedBy     string           `json:"placed_by,omitempty" doc:"Ops: who placed the order (role:subject). The customer: customer, or support when an operator placed it. Not shown to restaurants and couriers."`
	PickupAt     *time.Time       `json:"pickup_at,omitempty" doc:"When the courier is planned to pick the order up (the time to have it ready), once one is assigned."`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`
	History      []TransitionJSON `json:"history"`
}

// ItemJSON is one order line.
type ItemJSON struct {
	MenuItemID string `json:"menu_item_id"`
	Name       string `json:"name"`
	UnitPrice  int64  `json:"unit_price"`
	Quantity   int    `json:"quantity"`
}

// LatLngJSON is a position.
type LatLngJSON struct {
	Lat float64 `json:"lat" minimum:"-90" maximum:"90"`
	Lng float64 `json:"lng" minimum:"-180" maximum:"180"`
}

// TransitionJSON is one history entry.
type TransitionJSON struct {
	Status Status    `json:"status"`
	At     time.Time `json:"at"`
}

type placeInput struct {
	IdempotencyKey string `header:"Idempotency-Key" required:"true" minLength:"1" maxLength:"255" doc:"Makes the request safe to retry: the same key replays the first answer."`
	Body           struct {
		RestaurantID string `json:"restaurant_id" minLength:"1" maxLength:"64"`
		CustomerID   string `json:"customer_id,omitempty" maxLength:"64" doc:"Ops only: the customer the order is placed for."`
		Items        []struct {
			MenuItemID string `json:"menu_item_id" minLength:"1" maxLength:"64"`
			Quantity   int    `json:"quantity" minimum:"1" maximum:"99"`
		} `json:"items" minItems:"1" maxItems:"50" doc:"At most 99 of one menu item per order, counting every line that names it; the total is capped too."`
		Delivery   *LatLngJSON  `json:"delivery,omitempty" doc:"The drop-off point. Required, except for a carrier order whose address (given, or the customer's on record) has lat and lng."`
		Fulfilment string       `json:"fulfilment,omitempty" enum:"courier,carrier" doc:"Ops only: carrier ships the order through the outside carrier. Default courier; a restaurant whose delivery mode is carrier ships every order so."`
		Address    *AddressJSON `json:"address,omitempty" doc:"The postal address a carrier order ships to; default the customer's on record."`
	}
}

// AddressJSON is a postal address in a request.
type AddressJSON struct {
	Line1    string  `json:"line1" minLength:"1" maxLength:"200"`
	City     string  `json:"city" minLength:"1" maxLength:"100"`
	Postcode string  `json:"postcode" minLength:"1" maxLength:"20"`
	Country  string  `json:"country" minLength:"2" maxLength:"2" doc:"ISO 3166-1 alpha-2."`
	Lat      float64 `json:"lat,omitempty" minimum:"-90" maximum:"90"`
	Lng      float64 `json:"lng,omitempty" minimum:"-180" maximum:"180"`
}

type orderOutput struct {
	httpapi.StaleHeaders
	Status   int
	Location string `header:"Location"`
	Replayed string `header:"Idempotent-Replayed"`
	Body     OrderJSON
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type reasonInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500"`
	}
}

type listInput struct {
	Status       string `query:"status" enum:"placed,paid,accepted,preparing,ready,picked_up,delivered,rejected,cancelled,failed"`
	RestaurantID string `query:"restaurant_id" maxLength:"64"`
	Cursor       string `query:"cursor" maxLength:"64"`
	Limit        int    `query:"limit" minimum:"0" maximum:"100"`
}

type listOutput struct {
	Body struct {
		Orders     []OrderJSON `json:"orders"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}
}

// Register adds the order routes to srv.
func (s *Service) Register(srv *httpapi.Server) {
	all := []auth.Role{auth.Customer, auth.Restaurant, auth.Courier, auth.Ops}
	tags := []string{"orders"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "place-order", Method: http.MethodPost, Path: "/v1/orders", Tags: tags,
		Summary: "place an order", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, []auth.Role{auth.Customer, auth.Ops}, func(ctx context.Context, p auth.Principal, in *placeInput) (*orderOutput, error) {
		req := PlaceRequest{RestaurantID: in.Body.RestaurantID, CustomerID: in.Body.CustomerID, Fulfilment: in.Body.Fulfilment}
		if d := in.Body.Delivery; d != nil {
			req.Delivery = geo.LatLng{Lat: d.Lat, Lng: d.Lng}
		}
		if a := in.Body.Address; a != nil {
			req.Address = &Address{Line1: a.Line1, City: a.City, Postcode: a.Postcode, Country: a.Country, Lat: a.Lat, Lng: a.Lng}
		}
		for _, l := range in.Body.Items {
			req.Items = append(req.Items, LineInput{MenuItemID: l.MenuItemID, Quantity: l.Quantity})
		}
		res, err := s.Place(ctx, p, in.IdempotencyKey, req, func(o Order) ([]byte, error) { return json.Marshal(view(p, o)) })
		if err != nil {
			return nil, err
		}
		out := &orderOutput{Status: http.StatusCreated}
		if err := json.Unmarshal(res.Body, &out.Body); err != nil {
			return nil, fmt.Errorf("decode stored response: %w", err)
		}
		out.Location = "/v1/orders/" + out.Body.ID
		if res.Replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-order", Method: http.MethodGet, Path: "/v1/orders/{id}", Tags: tags, Summary: "read an order",
	}, all, func(ctx context.Context, p auth.Principal, in *idInput) (*orderOutput, error) {
		o, err := s.Get(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &orderOutput{Status: http.StatusOK, Body: view(p, o), StaleHeaders: httpapi.Stale(o.Stale)}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-orders", Method: http.MethodGet, Path: "/v1/orders", Tags: tags,
		Summary: "list orders: a customer's own, a restaurant's, a courier's, or all for ops",
	}, all, func(ctx context.Context, p auth.Principal, in *listInput) (*listOutput, error) {
		orders, next, err := s.List(ctx, p, ListQuery{Status: Status(in.Status), RestaurantID: in.RestaurantID, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		out := &listOutput{}
		out.Body.Orders = make([]OrderJSON, 0, len(orders))
		for _, o := range orders {
			out.Body.Orders = append(out.Body.Orders, view(p, o))
		}
		out.Body.NextCursor = next
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "cancel-order", Method: http.MethodPost, Path: "/v1/orders/{id}/cancel", Tags: tags,
		Summary: "cancel an order before pickup", Errors: []int{http.StatusConflict},
	}, []auth.Role{auth.Customer, auth.Ops}, func(ctx context.Context, p auth.Principal, in *reasonInput) (*orderOutput, error) {
		o, err := s.Cancel(ctx, p, in.ID, reasonOf(in))
		if err != nil {
			return nil, err
		}
		return &orderOutput{Status: http.StatusOK, Body: view(p, o)}, nil
	})

	for _, a := range []RestaurantAction{Accept, Reject, MarkPreparing, MarkReady} {
		httpapi.Handle(srv, huma.Operation{
			OperationID: string(a) + "-order", Method: http.MethodPost, Path: "/v1/orders/{id}/" + string(a), Tags: tags,
			Summary: "restaurant: " + string(a), Errors: []int{http.StatusConflict},
		}, []auth.Role{auth.Restaurant, auth.Ops}, func(ctx context.Context, p auth.Principal, in *reasonInput) (*orderOutput, error) {
			o, err := s.Restaurant(ctx, p, in.ID, a, reasonOf(in))
			if err != nil {
				return nil, err
			}
			return &orderOutput{Status: http.StatusOK, Body: view(p, o)}, nil
		})
	}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "reconcile-payments", Method: http.MethodGet, Path: "/v1/ops/payments/reconciliation", Tags: []string{"ops"},
		Summary: "compare the payment provider's ledger with the store: every mismatch listed",
	}, []auth.Role{auth.Ops}, func(ctx context.Context, p auth.Principal, in *reconcileInput) (*reconcileOutput, error) {
		rep, err := s.ReconcilePayments(ctx, in.Before, in.Limit)
		if err != nil {
			return nil, err
		}
		return &reconcileOutput{Body: rep}, nil
	})

	for _, a := range []CourierAction{PickUp, Deliver} {
		httpapi.Handle(srv, huma.Operation{
			OperationID: string(a) + "-order", Method: http.MethodPost, Path: "/v1/orders/{id}/" + string(a), Tags: tags,
			Summary: "courier: " + string(a), Errors: []int{http.StatusConflict},
		}, []auth.Role{auth.Courier, auth.Ops}, func(ctx context.Context, p auth.Principal, in *idInput) (*orderOutput, error) {
			o, err := s.Courier(ctx, p, in.ID, a)
			if err != nil {
				return nil, err
			}
			return &orderOutput{Status: http.StatusOK, Body: view(p, o)}, nil
		})
	}
}

type reconcileInput struct {
	Limit  int    `query:"limit" minimum:"0" maximum:"100000" doc:"How many payments to check (default 1000), newest first."`
	Before string `query:"before" maxLength:"64" doc:"Check payments of orders whose IDs sort before this one: the previous page's next."`
}

type reconcileOutput struct {
	Body Reconciliation
}

func reasonOf(in *reasonInput) string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Reason
}
