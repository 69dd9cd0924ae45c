package httpapi_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

type pointInput struct {
	Lat float64 `query:"lat" minimum:"-90" maximum:"90"`
}

type pointOutput struct {
	Body struct {
		Lat float64 `json:"lat"`
	}
}

func newServer(t *testing.T) (*httptest.Server, *auth.Keys) {
	t.Helper()
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	httpapi.Handle(srv, huma.Operation{OperationID: "point", Method: "GET", Path: "/v1/point", Summary: "read a point"},
		httpapi.Public, func(ctx context.Context, _ auth.Principal, in *pointInput) (*pointOutput, error) {
			if in.Lat == 42 || math.IsNaN(in.Lat) || math.IsInf(in.Lat, 0) {
				return nil, fault.Field("query.lat", in.Lat, "not the answer")
			}
			out := &pointOutput{}
			out.Body.Lat = in.Lat
			return out, nil
		})
	httpapi.Handle(srv, huma.Operation{OperationID: "secret", Method: "GET", Path: "/v1/secret", Summary: "read the secret"},
		[]auth.Role{auth.Ops}, func(ctx context.Context, p auth.Principal, in *struct{}) (*pointOutput, error) {
			return &pointOutput{}, nil
		})
	httpapi.Handle(srv, huma.Operation{OperationID: "boom", Method: "GET", Path: "/v1/boom", Summary: "fail"},
		httpapi.Public, func(ctx context.Context, _ auth.Principal, in *struct{}) (*pointOutput, error) {
			return nil, context.Canceled
		})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, keys
}

func TestProblems(t *testing.T) {
	t.Parallel()
	ts, keys := newServer(t)
	ops, _ := keys.Issue(auth.Principal{Subject: "o", Role: auth.Ops}, time.Hour)
	cust, _ := keys.Issue(auth.Principal{Subject: "c", Role: auth.Customer}, time.Hour)
	tests := []struct {
		name, path, token string
		status            int
		location          string
	}{
		{"ok", "/v1/point?lat=10", "", 200, ""},
		{"out of range", "/v1/point?lat=100", "", 422, "query.lat"},
		{"NaN", "/v1/point?lat=NaN", "", 422, "query.lat"},
		{"Inf", "/v1/point?lat=Inf", "", 422, "query.lat"},
		{"field error", "/v1/point?lat=42", "", 422, "query.lat"},
		{"no token", "/v1/secret", "", 401, ""},
		{"bad token", "/v1/secret", "garbage", 401, ""},
		{"wrong role", "/v1/secret", cust, 403, ""},
		{"right role", "/v1/secret", ops, 200, ""},
		{"internal error", "/v1/boom", "", 500, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", ts.URL+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p huma.ErrorModel
		decodeErr := json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: got %d, want %d", tt.name, resp.StatusCode, tt.status)
			continue
		}
		if tt.status < 300 {
			continue
		}
		if decodeErr != nil || p.Status != tt.status {
			t.Errorf("%s: body is not a problem with status %d (%v)", tt.name, tt.status, decodeErr)
		}
		if tt.location != "" && (len(p.Errors) == 0 || p.Errors[0].Location != tt.location) {
			t.Errorf("%s: errors %+v, want location %s", tt.name, p.Errors, tt.location)
		}
		if tt.status == 500 && p.Detail != "internal error" {
			t.Errorf("%s: detail %q leaks the cause, want \"internal error\"", tt.name, p.Detail)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t)
	for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.json"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: got %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestBusyConflictRetryAfter: a conflict with work still running (fault.Busy) is a 409 with
// Retry-After, from huma handlers and from WriteError alike; a conflict with the state of
// things is a 409 without one.
func TestBusyConflictRetryAfter(t *testing.T) {
	t.Parallel()
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	inProgress := fault.New(fault.Busy, "a request with this Idempotency-Key is still in progress")
	cancelled := fault.New(fault.Conflict, "order is cancelled")
	for name, err := range map[string]error{"busy": inProgress, "state": cancelled} {
		httpapi.Handle(srv, huma.Operation{OperationID: name, Method: "POST", Path: "/v1/" + name, Summary: "conflict"},
			httpapi.Public, func(context.Context, auth.Principal, *struct{}) (*pointOutput, error) { return nil, err })
		srv.Mux().HandleFunc("GET /plain/"+name, func(w http.ResponseWriter, r *http.Request) { srv.WriteError(w, r, err) })
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	for _, tt := range []struct {
		method, path, retryAfter, detail string
	}{
		{"POST", "/v1/busy", "1", inProgress.Error()},
		{"GET", "/plain/busy", "1", inProgress.Error()},
		{"POST", "/v1/state", "", cancelled.Error()},
		{"GET", "/plain/state", "", cancelled.Error()},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p huma.ErrorModel
		decodeErr := json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || decodeErr != nil || p.Detail != tt.detail {
			t.Errorf("%s %s: %d %q (%v), want 409 %q", tt.method, tt.path, resp.StatusCode, p.Detail, decodeErr, tt.detail)
		}
		if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%s %s: Retry-After %q, want %q", tt.method, tt.path, got, tt.retryAfter)
		}
	}
}

// TestLongValuesClipped: an error detail quotes at most the start of a rejected string, cut on
// a character boundary, whether huma rejected it (maxLength) or the handler did (fault.Field).
func TestLongValuesClipped(t *testing.T) {
	t.Parallel()
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	type qInput struct {
		Q string `query:"q" maxLength:"200"`
	}
	httpapi.Handle(srv, huma.Operation{OperationID: "q", Method: "GET", Path: "/v1/q", Summary: "q"},
		httpapi.Public, func(ctx context.Context, _ auth.Principal, in *qInput) (*pointOutput, error) {
			return nil, fault.Field("query.q", in.Q, "not a q")
		})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	for _, q := range []string{strings.Repeat("é", 90), strings.Repeat("x", 5000)} {
		resp, err := http.Get(ts.URL + "/v1/q?q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		var p huma.ErrorModel
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 422 || len(p.Errors) != 1 {
			t.Fatalf("q of %d bytes: got %d %+v (%v), want one 422 error", len(q), resp.StatusCode, p, err)
		}
		v, _ := p.Errors[0].Value.(string)
		if !strings.HasSuffix(v, "…") || len(v) > 64+len("…") || !utf8.ValidString(v) || !strings.HasPrefix(q, strings.TrimSuffix(v, "…")) {
			t.Errorf("q of %d bytes: value %q, want its first 64 bytes or fewer (whole characters) and …", len(q), v)
		}
	}
}
