package app_test

import (
	"testing"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestAccessTable: every route the dev app serves (every service, the fakes, the home page)
// has a row in app.Access, and every row is a route served: a route added without declaring
// who may call it fails here (and stops the app from starting), as does a row left behind.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.HomePage = true; c.FakeCarrier = true; c.CatchMail = true })
	served := map[string]bool{}
	for _, p := range a.Routes() {
		served[p] = true
		if _, ok := app.Access[p]; !ok {
			t.Errorf("route %q has no row in app.Access", p)
		}
	}
	for p := range app.Access {
		if !served[p] {
			t.Errorf("app.Access has a row for %q, which no route serves", p)
		}
	}
}
