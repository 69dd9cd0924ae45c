// Package customer owns customers' profiles: name, e-mail, phone, language, postal address and
// notification preferences, kept by ops for customers who have no login of their own. Every
// write is recorded in the ops audit log (package audit) in its own transaction; the package
// also serves that log to ops.
//
// Other packages read a profile with Get (the order service the postal address, the
// notifications the e-mail address and language). To keep that import safe the package
// imports no service: only the store, auth, fault, audit and the HTTP edge.
package customer

import (
	"context"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Errors callers branch on. Their messages are what clients are told.
var (
	ErrNotFound = fault.New(fault.NotFound, "customer not found")
	// ErrOpsOnly is a principal other than ops writing or listing customers.
	ErrOpsOnly = fault.New(fault.Forbidden, "only ops may do this")
)

// Profile is what ops write about a customer: PUT /v1/customers/{id}'s body.
type Profile struct {
	Name     string   `json:"name" minLength:"1" maxLength:"200"`
	Email    string   `json:"email" required:"false" maxLength:"254" doc:"An address alone (a@example.com), no display name. Required when notify.email is true."`
	Phone    string   `json:"phone" required:"false" maxLength:"16" doc:"E.164: + and 7 to 15 digits."`
	Language string   `json:"language" required:"false" maxLength:"35" doc:"BCP 47 tag (en-IN, hi, ta); answered in canonical form."`
	Address  *Address `json:"address,omitempty" doc:"The postal address; absent when not known."`
	Notify   *Notify  `json:"notify,omitempty" doc:"Notification preferences; absent when never set, and the notifier's defaults apply."`
}

// Address is a postal address, with its position when known (lat and lng together).
type Address struct {
	Line1    string   `json:"line1" required:"false" maxLength:"200"`
	City     string   `json:"city" required:"false" maxLength:"100"`
	Postcode string   `json:"postcode" required:"false" maxLength:"16"`
	Country  string   `json:"country" required:"false" maxLength:"2" doc:"ISO 3166-1 alpha-2 code (IN); required with line1, city or postcode."`
	Lat      *float64 `json:"lat,omitempty" minimum:"-90" maximum:"90" doc:"With lng, or neither."`
	Lng      *float64 `json:"lng,omitempty" minimum:"-180" maximum:"180" doc:"With lat, or neither."`
}

// Notify says on which channels a customer wants to hear about their orders. A field left
// out of a request is false.
type Notify struct {
	Email bool `json:"email" required:"false"`
	InApp bool `json:"in_app" required:"false"`
}

// Customer is a customer's record. UpdatedAt is CreatedAt for a row checkout wrote (an ID
// alone) and nobody has written a profile for since.
type Customer struct {
	ID string `json:"id"`
	Profile
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Target is the audit log's name for customer id: "customer:<id>".
func Target(id string) string { return "customer:" + id }

// Audit actions recorded for customer writes.
const (
	ActionCreate = "customer.create"
	ActionUpdate = "customer.update"
)

// Config configures the service. The zero value works.
type Config struct {
	// Now is the clock for created_at, updated_at and audit times. Default: time.Now.
	Now func() time.Time
}

// Service serves customers' profiles and the audit log over HTTP.
type Service struct {
	db  *store.DB
	now func() time.Time
}

// New returns the customer service over db.
func New(db *store.DB, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, now: cfg.Now}
}

// Get returns customer id as stored, for other packages; it checks no principal. q may be a
// *store.DB or a *store.Tx.
func Get(ctx context.Context, q store.Querier, id string) (Customer, error) {
	c, err := get(ctx, q, id, false)
	if err != nil {
		return Customer{}, fmt.Errorf("customer %s: %w", id, err)
	}
	return c, nil
}

// Customer returns customer id if p may see it: ops may see any customer, a customer only
// itself. Anyone else gets ErrNotFound, so a customer's existence doesn't leak (as with orders).
func (s *Service) Customer(ctx context.Context, p auth.Principal, id string) (Customer, error) {
	if !(p.Role == auth.Ops || p.Role == auth.Customer && p.Subject == id) {
		return Customer{}, ErrNotFound
	}
	var c Customer
	err := s.db.Do(ctx, func(ctx context.Context) error {
		var err error
		c, err = Get(ctx, s.db, id)
		return err
	})
	return c, err
}

// Put creates or replaces customer id's profile on behalf of p, who must be ops, and records
// the write in the audit log in the same transaction. created reports that the customer did
// not exist. A customer that checkout created (an ID alone) is updated, not created.
func (s *Service) Put(ctx context.Context, p auth.Principal, id string, pr Profile) (c Customer, created bool, err error) {
	if p.Role != auth.Ops {
		return Customer{}, false, ErrOpsOnly
	}
	if !idPattern.MatchString(id) {
		return Customer{}, false, fault.Field("path.id", id, "malformed customer id")
	}
	if err := pr.validate(); err != nil {
		return Customer{}, false, err
	}
	now := store.Time(store.Now(s.now())) // as it reads back
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		c, created, err = s.put(ctx, tx, actorOf(p), id, pr, now)
		return err
	})
	if err != nil {
		return Customer{}, false, fmt.Errorf("put customer %s: %w", id, err)
	}
	return c, created, nil
}

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// List returns, for ops, up to limit customers with IDs after after, in ID order, and the
// after of the next page ("" on the last).
func (s *Service) List(ctx context.Context, p auth.Principal, after string, limit int) ([]Customer, string, error) {
	if p.Role != auth.Ops {
		return nil, "", ErrOpsOnly
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		return nil, "", fault.Field("query.limit", limit, "must be in [1, %d]", MaxListLimit)
	}
	var cs []Customer
	err := s.db.Do(ctx, func(ctx context.Context) error {
		var err error
		cs, err = list(ctx, s.db, after, limit+1)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	next := ""
	if len(cs) > limit {
		cs = cs[:limit]
		next = cs[limit-1].ID
	}
	return cs, next, nil
}

// AuditLog returns, for ops, the audit entries q selects, newest first, and the Before of the
// next (older) page (0 on the last).
func (s *Service) AuditLog(ctx context.Context, p auth.Principal, q audit.Query) ([]audit.Entry, int64, error) {
	if p.Role != auth.Ops {
		return nil, 0, ErrOpsOnly
	}
	if q.Limit == 0 {
		q.Limit = audit.DefaultLimit
	}
	limit := q.Limit
	if limit < 1 || limit >= audit.MaxLimit {
		return nil, 0, fault.Field("query.limit", limit, "must be in [1, %d]", audit.MaxLimit-1)
	}
	q.Limit++ // one more, to know whether there is a next page
	var entries []audit.Entry
	err := s.db.Do(ctx, func(ctx context.Context) error {
		var err error
		entries, err = audit.List(ctx, s.db, q)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].Seq
	}
	return entries, next, nil
}

// actorOf names p in the audit log as order history does: role:subject.
func actorOf(p auth.Principal) string { return string(p.Role) + ":" + p.Subject }
