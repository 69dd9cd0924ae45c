package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestChaosShort is the short form of `tiffin bench chaos` that CI runs: the real binary
// (built here) under load, SIGKILLed at random moments (kill), with the payment provider
// failing 30% of its calls and every kill aimed between "the provider said yes" and "tiffin
// recorded it" (payments), and with the broker restarted twice, the process killed five times
// and poison events dead-lettered and redriven (broker); on SQLite, and the kill scenario on
// two replicas over PostgreSQL. Every scenario must keep every promise (ChaosResult.Pass):
// nothing acknowledged lost, duplicated or stuck; money captured, voided and refunded exactly
// once; a clean reconciliation; the poison dead-lettered after exactly its tries and handled
// once after the redrive. The long forms' figures are in docs/benchmarks.md.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tiffin and runs it under chaos for about two minutes")
	}
	bin := filepath.Join(t.TempDir(), "tiffin")
	build := exec.Command("go", "build", "-o", bin, "github.com/tiffin-dev/tiffin/cmd/tiffin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pg := tiffintest.PostgresURL()
	tiffintest.DSN(t, store.Postgres) // skips loudly (or fails under .ci/run) without a server

	runs := []struct {
		scenarios []string
		backend   string
	}{
		{[]string{ScenarioKill, ScenarioPayments, ScenarioBroker}, "sqlite"},
		{[]string{ScenarioKill}, pg},
	}
	for _, r := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var out strings.Builder
		results, err := Chaos(ctx, ChaosConfig{
			Scenarios: r.scenarios, Backends: []string{r.backend}, Binary: bin,
			Duration: 10 * time.Second, Rate: 40, PostgresRate: 40, Kills: 3, Poison: 100,
			Drain: 60 * time.Second, Out: &out,
		})
		cancel()
		t.Log("\n" + out.String())
		if err != nil {
			t.Fatalf("chaos %v on %s: %v", r.scenarios, backendLabel(r.backend), err)
		}
		if len(results) != len(r.scenarios) {
			t.Fatalf("chaos %v: %d results", r.scenarios, len(results))
		}
		for _, res := range results {
			if !res.Pass() {
				t.Errorf("%s on %s broke a promise: %+v", res.Scenario, res.Backend, res)
			}
			if res.Kills == 0 {
				t.Errorf("%s on %s: no process was killed", res.Scenario, res.Backend)
			}
			switch res.Scenario {
			case ScenarioPayments:
				if res.KillsInWindow < 1 {
					t.Errorf("payments: %d kills between the provider's yes and the record, want >= 1", res.KillsInWindow)
				}
				if res.CapturesPerDelivered != 1 || res.GiveBacksPerEnded != 1 || res.Mismatches != 0 {
					t.Errorf("payments: captures/delivered %.3f, give-backs/ended %.3f, mismatches %d; want 1, 1, 0",
						res.CapturesPerDelivered, res.GiveBacksPerEnded, res.Mismatches)
				}
			case ScenarioBroker:
				if res.DLQIn != 100 || res.DLQOut < 100 {
					t.Errorf("broker: DLQ in/out %d/%d, want 100/>=100", res.DLQIn, res.DLQOut)
				}
			}
		}
	}
}
