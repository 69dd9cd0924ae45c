// Package auth verifies tiffin's bearer tokens (JWTs) against configured public keys (PEM files
// or an identity provider's JWKS) and, for development, issues them with a key pair kept in
// the data directory; it names the roles and carries the authenticated principal through a
// request's context.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Role is what a principal may do. A restaurant principal acts for the restaurants it owns;
// customers and couriers see only their own objects; ops sees everything.
type Role string

// The roles.
const (
	Customer   Role = "customer"
	Restaurant Role = "restaurant"
	Courier    Role = "courier"
	Ops        Role = "ops"
)

// Roles lists every role.
var Roles = []Role{Customer, Restaurant, Courier, Ops}

// ParseRole validates s as a role name.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles, Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("auth: unknown role %q (want customer, restaurant, courier or ops)", s)
}

// Principal is who is calling: a subject (customer, restaurant owner, courier or operator ID)
// acting in one role.
type Principal struct {
	Subject string
	Role    Role
}

// Is reports whether p acts in one of the roles.
func (p Principal) Is(roles ...Role) bool { return slices.Contains(roles, p.Role) }

// ErrInvalidToken is returned for a token that is malformed, expired, or not ours.
var ErrInvalidToken = errors.New("invalid token")

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if the request was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
