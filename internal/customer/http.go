package customer

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// Register adds the customer routes and the ops audit log's to srv:
// PUT, GET /v1/customers/{id}, GET /v1/customers and GET /v1/ops/audit.
func (s *Service) Register(srv *httpapi.Server) {
	ops := []auth.Role{auth.Ops}
	tags := []string{"customers"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "put-customer", Method: http.MethodPut, Path: "/v1/customers/{id}", Tags: tags,
		Summary:     "create or replace a customer's profile",
		Description: "Answers 201 with a Location when the customer is new, 200 when it replaced one. Recorded in the audit log.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, ops, func(ctx context.Context, p auth.Principal, in *putInput) (*customerOutput, error) {
		c, created, err := s.Put(ctx, p, in.ID, in.Body)
		if err != nil {
			return nil, err
		}
		out := &customerOutput{Status: http.StatusOK, Body: c}
		if created {
			out.Status, out.Location = http.StatusCreated, "/v1/customers/"+c.ID
		}
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-customer", Method: http.MethodGet, Path: "/v1/customers/{id}", Tags: tags,
		Summary:     "read a customer's profile",
		Description: "Ops may read any customer, a customer only itself; other customers get 404.",
		Errors:      []int{http.StatusNotFound},
	}, []auth.Role{auth.Customer, auth.Ops}, func(ctx context.Context, p auth.Principal, in *idInput) (*customerOutput, error) {
		c, err := s.Customer(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &customerOutput{Status: http.StatusOK, Body: c}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-customers", Method: http.MethodGet, Path: "/v1/customers", Tags: tags,
		Summary: "list customers in ID order",
	}, ops, func(ctx context.Context, p auth.Principal, in *listInput) (*listOutput, error) {
		cs, next, err := s.List(ctx, p, in.After, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &listOutput{}
		out.Body.Customers, out.Body.Next = cs, next
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "export-me", Method: http.MethodGet, Path: "/v1/customers/me/export", Tags: tags,
		Summary:     "export everything tiffin holds about you",
		Description: "The customer's profile, orders (items, money, history, drop-offs) and in-app notifications, as JSON.",
	}, []auth.Role{auth.Customer}, func(ctx context.Context, p auth.Principal, _ *struct{}) (*exportOutput, error) {
		x, err := s.Export(ctx, p)
		if err != nil {
			return nil, err
		}
		return &exportOutput{Body: x}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "erase-me", Method: http.MethodDelete, Path: "/v1/customers/me", Tags: tags,
		Summary: "erase your personal data",
		Description: "Blanks the profile and takes the drop-offs, addresses and notes out of your orders, which stay " +
			"(without them) for accounting; deletes your notifications. Idempotent. 409 while an order is in progress.",
		Errors: []int{http.StatusConflict},
	}, []auth.Role{auth.Customer}, func(ctx context.Context, p auth.Principal, _ *struct{}) (*erasureOutput, error) {
		e, err := s.Erase(ctx, p, p.Subject)
		if err != nil {
			return nil, err
		}
		return &erasureOutput{Body: e}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "erase-customer", Method: http.MethodPost, Path: "/v1/ops/customers/{id}/erase", Tags: []string{"ops"},
		Summary:     "erase a customer's personal data",
		Description: "As DELETE /v1/customers/me, on ops' behalf; recorded in the audit log. Unknown customer 404.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, ops, func(ctx context.Context, p auth.Principal, in *idInput) (*erasureOutput, error) {
		e, err := s.Erase(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &erasureOutput{Body: e}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/ops/audit", Tags: []string{"ops"},
		Summary: "read the audit log, newest first",
	}, ops, func(ctx context.Context, p auth.Principal, in *auditInput) (*auditOutput, error) {
		entries, next, err := s.AuditLog(ctx, p, audit.Query{Target: in.Target, Actor: in.Actor, Before: in.Before, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		out := &auditOutput{}
		out.Body.Entries, out.Body.Next = entries, next
		return out, nil
	})
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type putInput struct {
	ID   string `path:"id" pattern:"^[A-Za-z0-9_.:-]{1,64}$"`
	Body Profile
}

type customerOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     Customer
}

type listInput struct {
	After string `query:"after" maxLength:"64" doc:"List customers whose IDs sort after this one: the previous page's next."`
	Limit int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size; 0 means 20."`
}

type listOutput struct {
	Body struct {
		Customers []Customer `json:"customers"`
		Next      string     `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last."`
	}
}

type auditInput struct {
	Target string `query:"target" maxLength:"200" doc:"Only entries about this target, such as customer:c-1."`
	Actor  string `query:"actor" maxLength:"200" doc:"Only entries by this actor, such as ops:op-1."`
	Before int64  `query:"before" minimum:"0" doc:"Only entries older than this seq: the previous page's next."`
	Limit  int    `query:"limit" minimum:"0" maximum:"500" doc:"Page size; 0 means 50."`
}

type auditOutput struct {
	Body struct {
		Entries []audit.Entry `json:"entries"`
		Next    int64         `json:"next,omitempty" doc:"Pass as before for the next (older) page; absent on the last."`
	}
}

type exportOutput struct {
	Body Export
}

type erasureOutput struct {
	Body Erasure
}
