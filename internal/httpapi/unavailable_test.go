package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// errDriver stands for a database driver's own error, which Classify recognises.
var errDriver = errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")

type staleOutput struct {
	httpapi.StaleHeaders
	Body struct {
		OK bool `json:"ok"`
	}
}

// TestUnavailable: a dependency that is down is a 503 with Retry-After whose message names
// the dependency but not the cause, whether the error says so itself (fault.Down) or Classify
// recognises it; /readyz gives the reason.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ready := errors.Join(&fault.Down{Dependency: "database", Err: errDriver}, &fault.Down{Dependency: "cache", Err: errDriver})
	srv := httpapi.New(httpapi.Config{
		Keys: keys, RetryAfter: 1500 * time.Millisecond,
		Ready: func(context.Context) error { return ready },
		Classify: func(err error) error {
			if errors.Is(err, errDriver) {
				return &fault.Down{Dependency: "database", Err: err}
			}
			return err
		},
	})
	fail := func(path string, err error) {
		httpapi.Handle(srv, huma.Operation{OperationID: strings.TrimPrefix(path, "/v1/"), Method: "POST", Path: path, Summary: "fail"},
			httpapi.Public, func(context.Context, auth.Principal, *struct{}) (*staleOutput, error) { return nil, err })
	}
	fail("/v1/down", fmt.Errorf("insert order: %w", &fault.Down{Dependency: "database", Err: errDriver}))
	fail("/v1/driver", fmt.Errorf("insert order: %w", errDriver))
	fail("/v1/timeout", fmt.Errorf("insert order: %w", context.DeadlineExceeded))
	for _, stale := range []bool{false, true} {
		httpapi.Handle(srv, huma.Operation{OperationID: fmt.Sprint("stale-", stale), Method: "GET", Path: fmt.Sprint("/v1/stale/", stale), Summary: "read"},
			httpapi.Public, func(context.Context, auth.Principal, *struct{}) (*staleOutput, error) {
				out := &staleOutput{StaleHeaders: httpapi.Stale(stale)}
				out.Body.OK = true
				return out, nil
			})
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	tests := []struct {
		method, path string
		status       int
		detail       string
	}{
		{"POST", "/v1/down", 503, "database unreachable, retry later"},
		{"POST", "/v1/driver", 503, "database unreachable, retry later"},
		{"POST", "/v1/timeout", 503, "request timed out"},
		{"GET", "/readyz", 503, "degraded: database unreachable; cache unreachable"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p huma.ErrorModel
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tt.status || p.Detail != tt.detail {
			t.Errorf("%s %s: got %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, p.Detail, tt.status, tt.detail)
		}
		if got := resp.Header.Get("Retry-After"); got != "2" {
			t.Errorf("%s %s: Retry-After %q, want \"2\" (1.5s rounded up)", tt.method, tt.path, got)
		}
	}

	for _, stale := range []bool{false, true} {
		resp, err := http.Get(fmt.Sprint(ts.URL, "/v1/stale/", stale))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[bool][2]string{false: {"", ""}, true: {httpapi.StaleWarning, "true"}}[stale]
		if got := [2]string{resp.Header.Get("Warning"), resp.Header.Get("X-Tiffin-Stale")}; got != want {
			t.Errorf("stale %v: headers Warning, X-Tiffin-Stale = %q, want %q", stale, got, want)
		}
	}
}
