package dlq

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
)

type listInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"The last ID of the previous page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"500" doc:"Page size; 0 means 50."`
}

type listOutput struct{ Body Page }

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type detailOutput struct{ Body Detail }

// RedriveRequest is the body of POST /v1/ops/dlq/redrive: IDs, or all.
type RedriveRequest struct {
	IDs []string `json:"ids,omitempty" maxItems:"1000" doc:"Dead letters to redrive."`
	All bool     `json:"all,omitempty" doc:"Redrive every dead letter instead."`
}

type redriveInput struct{ Body RedriveRequest }

type redriveOutput struct{ Body RedriveResult }

// Register adds the ops routes: GET /v1/ops/dlq, GET /v1/ops/dlq/{id} and
// POST /v1/ops/dlq/redrive.
func (s *Service) Register(srv *httpapi.Server) {
	ops := []auth.Role{auth.Ops}
	tags := []string{"ops"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-dead-letters", Method: http.MethodGet, Path: "/v1/ops/dlq", Tags: tags,
		Summary: "list dead letters, oldest first", Errors: []int{http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, _ auth.Principal, in *listInput) (*listOutput, error) {
		p, err := s.List(ctx, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return &listOutput{Body: p}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-dead-letter", Method: http.MethodGet, Path: "/v1/ops/dlq/{id}", Tags: tags,
		Summary: "read a dead letter with its payload and headers", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, _ auth.Principal, in *idInput) (*detailOutput, error) {
		d, err := s.Show(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &detailOutput{Body: d}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "redrive-dead-letters", Method: http.MethodPost, Path: "/v1/ops/dlq/redrive", Tags: tags,
		Summary:     "redrive dead letters: publish each again for its consumer, then remove it",
		Description: `Body {"ids": ["bus-42", ...]} or {"all": true}. IDs not held are listed in not_found, so a retried request is harmless.`,
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, p auth.Principal, in *redriveInput) (*redriveOutput, error) {
		var res RedriveResult
		var err error
		switch {
		case in.Body.All && len(in.Body.IDs) > 0:
			return nil, fault.Field("body", nil, "give ids or all, not both")
		case in.Body.All:
			res, err = s.RedriveAll(ctx)
		case len(in.Body.IDs) > 0:
			res, err = s.Redrive(ctx, in.Body.IDs)
		default:
			return nil, fault.Field("body", nil, `give ids (["bus-42", ...]) or all: true`)
		}
		if err != nil {
			return nil, err
		}
		if err := s.recordRedrive(ctx, p, in.Body, res); err != nil {
			return nil, err
		}
		return &redriveOutput{Body: res}, nil
	})
}

// recordRedrive writes a redrive to the audit log: who asked for which dead letters, and
// which were redriven.
func (s *Service) recordRedrive(ctx context.Context, p auth.Principal, req RedriveRequest, res RedriveResult) error {
	if s.audit == nil {
		return nil
	}
	detail := map[string]any{"all": req.All, "ids": req.IDs, "redriven": res.Redriven, "not_found": res.NotFound, "failed": len(res.Failed)}
	return s.audit.InTx(ctx, func(tx *store.Tx) error {
		return audit.Record(ctx, tx, string(p.Role)+":"+p.Subject, "dlq.redrive", "dlq", detail, time.Now())
	})
}
