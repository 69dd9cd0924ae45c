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
		Description: "Assigns the delivery to the courier. Exactly one accept of an offer succeeds. " +
			"Someone else's offer is 403, an expired one 410, one already answered 409.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusGone},
	}, courierOnly, func(ctx context.Context, p auth.Principal, in *offerIDInput) (*deliveryOutput, error) {
		d, err := s.Accept(ctx, p.Subject, in.OfferID)
		if err != nil {
			return nil, err
		}
		return &deliveryOutput{Body: d}, nil
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "decline-offer", Method: http.MethodPost, Path: "/v1/courier/offers/{offer_id}/decline",
		Summary: "Decline an offer", Tags: tags,
		Description: "The delivery goes to another courier; this one is not offered the order again.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusGone},
	}, courierOnly, func(ctx context.Context, p auth.Principal, in *offerIDInput) (*struct{}, error) {
		return nil, s.Decline(ctx, p.Subject, in.OfferID)
	})
	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-courier-delivery", Method: http.MethodGet, Path: "/v1/courier/delivery",
		Summary: "Get the current delivery", Tags: tags,
		Description: "The delivery the courier carries (assigned or picked up), or 404.",
		Errors:      []int{http.StatusNotFound},
	}, courierOnly, func(ctx context.Context, p auth.Principal, _ *struct{}) (*deliveryOutput, error) {
		d, err := s.CurrentDelivery(ctx, p.Subject)
		if err != nil {
			return nil, err
		}
		return &deliveryOutput{Body: d}, nil
	})
}
