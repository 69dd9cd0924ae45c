package customer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/customer"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// t0 is 2025-03-10 04:00 UTC.
var t0 = time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC)

var ops = auth.Principal{Subject: "op-1", Role: auth.Ops}

func self(id string) auth.Principal { return auth.Principal{Subject: id, Role: auth.Customer} }

type fixture struct {
	db    *store.DB
	svc   *customer.Service
	clock *tiffintest.Clock
}

func newFixture(tb testing.TB, d store.Dialect) *fixture {
	tb.Helper()
	db := tiffintest.NewStoreOn(tb, d)
	c := tiffintest.NewClock(t0)
	return &fixture{db: db, clock: c, svc: customer.New(db, customer.Config{Now: c.Now})}
}

// forBackends runs test once per store backend, in parallel.
func forBackends(t *testing.T, test func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			test(t, d)
		})
	}
}

// fieldLocation returns the location of the field error in err, or "" if there is none.
func fieldLocation(err error) string {
	var fe *fault.FieldError
	if errors.As(err, &fe) {
		return fe.Location
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// api is the customer service served over HTTP with a token factory.
type api struct {
	*fixture
	url  string
	keys *auth.Keys
}

func newAPI(tb testing.TB, d store.Dialect) *api {
	tb.Helper()
	keys, err := auth.LoadOrCreate(tb.TempDir())
	if err != nil {
		tb.Fatalf("keys: %v", err)
	}
	f := newFixture(tb, d)
	srv := httpapi.New(httpapi.Config{Keys: keys, Classify: f.db.Classify})
	f.svc.Register(srv)
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &api{fixture: f, url: ts.URL, keys: keys}
}

func (a *api) token(tb testing.TB, p auth.Principal) string {
	tb.Helper()
	tok, err := a.keys.Issue(p, time.Hour)
	if err != nil {
		tb.Fatalf("issue token: %v", err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; token and body may be empty.
func (a *api) do(tb testing.TB, method, path, token, body string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func decode[T any](tb testing.TB, r response) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// problem is the part of an RFC 9457 body the tests look at.
type problem struct {
	Status int `json:"status"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

// locations lists the field locations a problem response names.
func locations(tb testing.TB, r response) []string {
	tb.Helper()
	var out []string
	for _, e := range decode[problem](tb, r).Errors {
		out = append(out, e.Location)
	}
	return out
}
