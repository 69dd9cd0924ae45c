package account

import (
	"context"
	"net"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// Register adds the local accounts' routes to srv, all public (no bearer token):
// POST /v1/auth/login, POST /v1/auth/refresh and POST /v1/auth/logout. With s nil (a server
// that cannot sign access tokens) they are still declared, and answer 404 ErrNotEnabled.
func Register(srv *httpapi.Server, s *Service) {
	tags := []string{"auth"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/v1/auth/login", Tags: tags,
		Summary: "log in with a local account (ops and restaurant staff)",
		Description: "Answers an access token (a bearer token for the API, 15 minutes by default) and a refresh token. " +
			"A wrong password, an unknown username and a disabled account are answered alike (401). After 5 failures " +
			"for one username within 15 minutes (20 for one client address) logins are refused with 429 and Retry-After " +
			"for a lock-out doubling from a minute to an hour; a successful login resets the username's count.",
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusTooManyRequests},
	}, httpapi.Public, func(ctx context.Context, _ auth.Principal, in *loginInput) (*tokensOutput, error) {
		if s == nil {
			return nil, ErrNotEnabled
		}
		t, err := s.Login(ctx, in.Body.Username, in.Body.Password, in.addr)
		if err != nil {
			return nil, err
		}
		return &tokensOutput{CacheControl: "no-store", Body: t}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/v1/auth/refresh", Tags: tags,
		Summary: "trade a refresh token for a new access token and refresh token",
		Description: "The refresh token presented is used up. Presenting a used refresh token again revokes every " +
			"refresh token of its login (the newer ones too) and answers 401.",
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, httpapi.Public, func(ctx context.Context, _ auth.Principal, in *refreshInput) (*tokensOutput, error) {
		if s == nil {
			return nil, ErrNotEnabled
		}
		t, err := s.Refresh(ctx, in.Body.RefreshToken)
		if err != nil {
			return nil, err
		}
		return &tokensOutput{CacheControl: "no-store", Body: t}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/v1/auth/logout", Tags: tags,
		Summary:       "revoke a refresh token and every other of its login",
		Description:   "Answers 204 whether or not the token was known. Access tokens already issued live out their lifetimes.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}, httpapi.Public, func(ctx context.Context, _ auth.Principal, in *refreshInput) (*struct{}, error) {
		if s == nil {
			return nil, ErrNotEnabled
		}
		return nil, s.Logout(ctx, in.Body.RefreshToken)
	})
}

type loginInput struct {
	Body struct {
		Username string `json:"username" minLength:"1" maxLength:"64"`
		Password string `json:"password" minLength:"1" maxLength:"1024"`
	}
	addr string
}

// Resolve notes the client's address, which failed logins are counted against too: the one
// the edge counts the request by (behind --trusted-proxies, the client's, not the proxy's),
// else the socket's peer.
func (in *loginInput) Resolve(ctx huma.Context) []error {
	if in.addr = httpapi.ClientIP(ctx.Context()); in.addr != "" {
		return nil
	}
	in.addr = ctx.RemoteAddr()
	if host, _, err := net.SplitHostPort(in.addr); err == nil {
		in.addr = host
	}
	return nil
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"128"`
	}
}

type tokensOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         Tokens
}
