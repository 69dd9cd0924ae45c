package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
)

// money is what the provider's ledger says of a chaos run.
type money struct {
	capturesPerDelivered float64 // captures the provider made per captured PaymentIntent
	giveBacksPerEnded    float64 // voids and refunds it made per PaymentIntent given back
	holding              int     // ended orders whose money the provider holds or kept
	doubleAuthorized     int     // orders with more than one PaymentIntent
	twice                int     // PaymentIntents captured, or given back, more than once
	cancel8, cancel8Back int     // authorized orders cancelled by eight concurrent requests once paid; voids and refunds of them
	examples             []string
}

// checkLedger reads the fake provider's PaymentIntents (this run's only: each scenario has its
// own provider): every order has at most one, none holds money after the drain (the run's
// orders have all ended by then, or are counted stuck), and the provider's effects per
// captured and per given-back PaymentIntent.
//
// cancel8 holds the orders cancelled by eight concurrent requests once paid: each must have
// been voided or refunded exactly once.
func checkLedger(pay *stripefake.Server, cancel8 map[string]bool) money {
	byOrder := map[string]int{}
	var m money
	example := func(s string) {
		if len(m.examples) < 5 {
			m.examples = append(m.examples, s)
		}
	}
	captured, gaveBack := 0, 0
	for _, pi := range pay.Intents() {
		id := pi.Metadata["tiffin_order"]
		byOrder[id]++
		if byOrder[id] == 2 {
			m.doubleAuthorized++
			example("double authorization: order " + id)
		}
		back := pi.Effects[stripefake.Canceled] + pi.Effects[stripefake.Refunded]
		if pi.Effects[stripefake.Captured] > 1 || back > 1 {
			m.twice++
			example(fmt.Sprintf("order %s's PaymentIntent %s: %d captures, %d voids/refunds", id, pi.ID, pi.Effects[stripefake.Captured], back))
		}
		if cancel8[id] && pi.Effects[stripefake.Authorized] > 0 {
			m.cancel8++ // paid (an order whose authorization never went through has nothing to give back)
			m.cancel8Back += back
		}
		switch {
		case pi.Declined:
		case pi.Status == "requires_capture":
			m.holding++
			example(fmt.Sprintf("holding: order %s's PaymentIntent %s still holds %d", id, pi.ID, pi.Capturable))
		case pi.Status == "succeeded" && pi.Refunded > 0:
			captured++
			gaveBack++
		case pi.Status == "succeeded":
			captured++
		case pi.Status == "canceled":
			gaveBack++
		}
	}
	m.capturesPerDelivered, m.giveBacksPerEnded = -1, -1
	if captured > 0 {
		m.capturesPerDelivered = float64(pay.Effects(stripefake.Captured)) / float64(captured)
	}
	if gaveBack > 0 {
		m.giveBacksPerEnded = float64(pay.Effects(stripefake.Canceled)+pay.Effects(stripefake.Refunded)) / float64(gaveBack)
	}
	return m
}

// reconcile pages through the ops payment reconciliation on a replica and returns its
// mismatches (and payments still unsettled).
func reconcile(ctx context.Context, out io.Writer, c *client, bases []string, ops string) (int, error) {
	// A page stops a second before the server's 15 s request deadline: wait longer than that.
	c = &client{base: c.base, hc: &http.Client{Transport: c.hc.Transport, Timeout: time.Minute}}
	var checked, mismatches, unsettled, unverified int
	before := ""
	for page := 0; ; page++ {
		var lastErr error
		var rep struct {
			Checked    int               `json:"checked"`
			Mismatches []json.RawMessage `json:"mismatches"`
			Unsettled  int               `json:"unsettled"`
			Unverified []string          `json:"unverified"`
			Next       string            `json:"next"`
		}
		ok := false
		for _, base := range bases {
			status, body, err := c.doAt(ctx, base, http.MethodGet, "/v1/ops/payments/reconciliation?limit=1000&before="+before, ops, nil, nil)
			if err != nil || status != http.StatusOK {
				lastErr = fmt.Errorf("GET reconciliation: %d %s %v", status, snippet(body), err)
				continue
			}
			if err := json.Unmarshal(body, &rep); err != nil {
				return -1, err
			}
			ok = true
			break
		}
		if !ok {
			return -1, lastErr
		}
		checked += rep.Checked
		mismatches += len(rep.Mismatches)
		unsettled += rep.Unsettled
		unverified += len(rep.Unverified)
		if rep.Next == "" || page > 10000 {
			break
		}
		before = rep.Next
	}
	fmt.Fprintf(out, "    reconciliation: checked %d, mismatches %d, unsettled %d, unverified %d\n",
		checked, mismatches, unsettled, unverified)
	return mismatches + unsettled, nil
}
