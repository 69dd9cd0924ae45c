package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/catalog"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// t0 is 2025-03-10 04:00 UTC, 09:30 in Kolkata.
var t0 = time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC)

type fixture struct {
	db    *store.DB
	svc   *catalog.Service
	clock *tiffintest.Clock
}

func newFixture(tb testing.TB, d store.Dialect) *fixture {
	tb.Helper()
	db := tiffintest.NewStoreOn(tb, d)
	c := tiffintest.NewClock(t0)
	return &fixture{db: db, clock: c, svc: catalog.New(db, catalog.Config{Now: c.Now})}
}

var (
	ops       = auth.Principal{Subject: "op-1", Role: auth.Ops}
	bengaluru = geo.LatLng{Lat: 12.9716, Lng: 77.5946}
)

func owner(s string) auth.Principal { return auth.Principal{Subject: s, Role: auth.Restaurant} }

// mustPut creates or replaces a restaurant as ops, owned by ownerID.
func (f *fixture) mustPut(tb testing.TB, id, ownerID string, at geo.LatLng) catalog.Restaurant {
	tb.Helper()
	r, err := f.svc.PutRestaurant(context.Background(), ops, catalog.Restaurant{
		ID: id, OwnerID: ownerID, Name: "Kitchen " + id, Location: at,
	})
	if err != nil {
		tb.Fatalf("put restaurant %s: %v", id, err)
	}
	return r
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

// api is the catalog served over HTTP with a token factory.
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
	srv := httpapi.New(httpapi.Config{Keys: keys})
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

// do sends a request; token and body may be empty. Extra headers come in pairs.
func (a *api) do(tb testing.TB, method, path, token, body string, headers ...string) response {
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
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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
