package dispatch

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// FuzzShiftBody puts arbitrary bodies to PUT /v1/courier/shift: a 2xx or a 4xx problem, never
// a 5xx.
func FuzzShiftBody(f *testing.F) {
	f.Add([]byte(`{"on_shift":true,"vehicle":"bike","lat":12.97,"lng":77.59}`))
	f.Add([]byte(`{"on_shift":false}`))
	f.Add([]byte(`{"on_shift":true,"vehicle":"rocket","lat":200}`))
	f.Add([]byte(`{"on_shift":"yes"}`))
	f.Add([]byte(`{`))
	fx := newFixture(f, store.SQLite, Config{})
	tok, err := fx.keys.Issue(auth.Principal{Subject: "fuzz-courier", Role: auth.Courier}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _ := http.NewRequest("PUT", fx.url+"/v1/courier/shift", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("body %q: got %d", body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("body %q: %d without problem+json", body, resp.StatusCode)
		}
	})
}
