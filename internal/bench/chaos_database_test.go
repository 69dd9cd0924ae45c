package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestChaosDatabase is the short form of the database scenario: the app on PostgreSQL behind
// a proxy, mixed load, the database blackholed for 10s (TIFFIN_CHAOS_OUTAGE=60s for the long
// form). The targets are the for the 60s form: no 5xx but 503 with Retry-After on
// writes (each within 2s), at least 99% of the reads answered, full service within 5s of the
// restore, no acknowledged order lost.
func TestChaosDatabase(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs mixed load through a 10s database outage")
	}
	outage := 10 * time.Second
	if v := os.Getenv("TIFFIN_CHAOS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TIFFIN_CHAOS_OUTAGE=%s: %v", v, err)
		}
		outage = d
	}
	dsn, px := tiffintest.PostgresBehindProxy(t)
	a := apptest.Start(t, store.Postgres, func(c *app.Config) { c.DB = dsn })
	ctx, cancel := context.WithTimeout(context.Background(), outage+2*time.Minute)
	defer cancel()
	var out strings.Builder
	res, err := ChaosDatabase(ctx, ChaosDatabaseConfig{
		URL: a.URL, Keys: a.Keys(), Clients: 6,
		Before: 3 * time.Second, Outage: outage, After: 8 * time.Second,
		Cut:     func(context.Context) error { px.Blackhole(); return nil },
		Restore: func(context.Context) error { px.Restore(); return nil },
		Out:     &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("ChaosDatabase: %v", err)
	}
	checks := []struct {
		ok   bool
		what string
	}{
		{res.WritesAcked > 0, "some checkouts acknowledged"},
		{res.WritesRefused > 0, "checkouts refused with 503 + Retry-After while down"},
		{res.WritesNoRetry == 0, "no 503 without Retry-After"},
		{res.Other5xx == 0, "no other 5xx"},
		{res.OtherFailures == 0, "no transport errors or unexpected 4xx"},
		{res.MaxOutageWrite < 2, "every checkout answered within 2s while down"},
		{res.OutageReads > 0 && res.OutageReadShare() >= 0.99, ">= 99% of reads answered while down"},
		{res.RecoverySeconds >= 0 && res.RecoverySeconds <= 5, "full service within 5s of the restore"},
		{res.AckedChecked == res.WritesAcked && res.AckedLost == 0, "every acknowledged order there afterwards"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("want %s: got %+v", c.what, res)
		}
	}
}
