package tracking

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// FuzzLocationsBody throws arbitrary bodies at POST /v1/courier/locations: whatever comes in,
// the answer is 202 or a 4xx problem, never a 5xx.
func FuzzLocationsBody(f *testing.F) {
	fx := newFixture(f, store.SQLite, Config{MaxFixesPerRequest: 5})
	h := fx.srv.Handler()
	auth := "Bearer " + fx.token("c1", auth.Courier)
	for _, seed := range []string{
		`{"fixes":[{"lat":12.9,"lng":77.6}]}`,
		`{"fixes":[{"lat":12.9,"lng":77.6,"at":"2026-01-01T10:00:00Z","speed_mps":4.5,"heading":90}]}`,
		`{"fixes":[{"lat":90,"lng":180},{"lat":-90,"lng":-180,"at":"9999-12-31T23:59:59Z"}]}`,
		`{"fixes":[{"lat":1e308,"lng":-1e308}]}`,
		`{"fixes":[{"lat":0,"lng":0,"heading":360.0000001}]}`,
		`{"fixes":[]}`,
		`{"fixes":null}`,
		`{"fixes":[{}]}`,
		`{"fixes":[{"lat":null,"lng":"x"}]}`,
		`{"fixes":[{"lat":1,"lng":1,"at":"yesterday"}]}`,
		`{"fixes":[{"lat":1,"lng":1}],"extra":true}`,
		`[]`, `null`, `""`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/courier/locations", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusAccepted && rec.Code < 400 {
			t.Fatalf("body %q: status %d, want 202 or 4xx", body, rec.Code)
		}
	})
}
