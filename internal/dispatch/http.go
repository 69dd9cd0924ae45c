package dispatch

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

var courierOnly = []auth.Role{auth.Courier}

type shiftInput struct {
	Body Shift
}

type courierOutput struct {
	Body Courier
}

type offerOutput struct {
	Body Offer
}

type deliveryOutput struct {
	Body Delivery
}

type routeOutput struct {
	Body Route
}

type offerIDInput struct {
	OfferID string `path:"offer_id" maxLength:"128" doc:"the offer's ID"`
}

// Register adds the courier routes to srv.
func (s *Service) Register(srv *httpapi.Server) {
	tags := []string{"dispatch"}
	httpapi.Handle(srv, huma.Operation{
		OperationID: "put-courier-shift", Method: http.MethodPut, Path: "/v1/courier/shift",
		Summary: "Start or end a shift", Tags: tags,
		Description: "Starting makes the courier available for offers. Ending is refused with 409 while the " +
			"courier carries a delivery; an offer it holds goes to another courier.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, courierOnly, func(ctx context.Context, p auth.Principal, in *shiftInput) (*courierOutput, error) {
		c, err := s.SetShift(ctx, p.Subject, in.Body)
		if err != nil {
			return nil, err
		}
		return &courierOutput{Body: c}, nil
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-courier-offer", Method: http.MethodGet, Path: "/v1/courier/offer",
		Summary: "Get the current offer", Tags: tags,
		Description: "The route on offer to the courier until expires_at: the pickup, the orders in drop-off " +
			"sequence with each drop-off's area (not its address, shown once accepted), distance and pay. 404 when none.",
		Errors: []int{http.StatusNotFound},
	}, courierOnly, func(ctx context.Context, p auth.Principal, _ *struct{}) (*offerOutput, error) {
		o, err := s.CurrentOffer(ctx, p.Subject)
		if err != nil {
			return nil, err
		}
		return &offerOutput{Body: o}, nil
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "accept-offer", Method: http.MethodPost, Path: "/v1/courier/offers/{offer_id}/accept",
		Summary: "Accept an offer", Tags: tags,
		Description: "Makes the offered route the courier's and answers it with the drop-off addresses. " +
			"Exactly one accept of an offer succeeds. Someone else's offer is 403; one that expired or was " +
			"withdrawn is 410 (for every offer id ever issued); one already answered 409; an id never issued 404.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusGone},
	}, courierOnly, func(ctx context.Context, p auth.Principal, in *offerIDInput) (*routeOutput, error) {
		r, err := s.Accept(ctx, p.Subject, in.OfferID)
		if err != nil {
			return nil, err
		}
		return &routeOutput{Body: r}, nil
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "decline-offer", Method: http.MethodPost, Path: "/v1/courier/offers/{offer_id}/decline",
		Summary: "Decline an offer", Tags: tags,
		Description: "The orders are planned again without this courier, who is not offered them again.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusGone},
	}, courierOnly, func(ctx context.Context, p auth.Principal, in *offerIDInput) (*struct{}, error) {
		return nil, s.Decline(ctx, p.Subject, in.OfferID)
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-courier-delivery", Method: http.MethodGet, Path: "/v1/courier/delivery",
		Summary: "Get the current delivery", Tags: tags,
		Description: "The next delivery of the courier's route (the first in drop-off sequence not yet delivered), or 404.",
		Errors:      []int{http.StatusNotFound},
	}, courierOnly, func(ctx context.Context, p auth.Principal, _ *struct{}) (*deliveryOutput, error) {
		d, err := s.CurrentDelivery(ctx, p.Subject)
		if err != nil {
			return nil, err
		}
		return &deliveryOutput{Body: d}, nil
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-courier-route", Method: http.MethodGet, Path: "/v1/courier/route",
		Summary: "Get the current route", Tags: tags,
		Description: "The accepted offer the courier is carrying out: the pickup, then the drop-offs in sequence, " +
			"each with its delivery's status. Report each order with POST /v1/orders/{id}/picked-up and " +
			"/delivered. 404 when the courier is on no route.",
		Errors: []int{http.StatusNotFound},
	}, courierOnly, func(ctx context.Context, p auth.Principal, _ *struct{}) (*routeOutput, error) {
		r, err := s.CurrentRoute(ctx, p.Subject)
		if err != nil {
			return nil, err
		}
		return &routeOutput{Body: r}, nil
	})
}
