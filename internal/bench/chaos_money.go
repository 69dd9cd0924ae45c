package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
)

// money is what the provider's ledger says of a chaos run.
type money struct {
	capturesPerDelivered float64 // captures made per delivered order
	giveBacksPerEnded    float64 // voids and refunds made per ended order that had a hold
	holding              int     // ended orders whose money the provider holds or kept
	doubleAuthorized     int     // orders with more than one PaymentIntent
	examples             []string
}

// checkLedger compares the fake provider's PaymentIntents with the orders' ends.
func checkLedger(pay *stripefake.Server, acked []ackedOrder, t tally) money {
	byOrder := map[string][]stripefake.Intent{}
	for _, pi := range pay.Intents() {
		id := pi.Metadata["tiffin_order"]
		byOrder[id] = append(byOrder[id], pi)
	}
	var m money
	example := func(s string) {
		if len(m.examples) < 5 {
			m.examples = append(m.examples, s)
		}
	}
	held := 0 // ended orders that had a live hold at some point
	for _, a := range acked {
		pis := byOrder[a.id]
		if len(pis) > 1 {
			m.doubleAuthorized++
			example(fmt.Sprintf("double authorization: order %s has %d PaymentIntents", a.id, len(pis)))
		}
		for _, pi := range pis {
			if pi.Declined {
				continue
			}
			switch {
			case pi.Status == "requires_capture":
				// A hold still open: right only for an order not yet delivered nor ended,
				// which after the drain means a stuck order (counted there); for an ended
				// order it is money kept.
				m.holding++
				example(fmt.Sprintf("holding: order %s's PaymentIntent %s still holds %d", a.id, pi.ID, pi.Capturable))
			case pi.Status == "succeeded" && pi.Refunded > 0:
				held++
			case pi.Status == "canceled":
				held++
			}
		}
	}
	if t.Delivered > 0 {
		m.capturesPerDelivered = float64(pay.Effects(stripefake.Captured)) / float64(t.Delivered)
	} else {
		m.capturesPerDelivered = -1
	}
	if held > 0 {
		m.giveBacksPerEnded = float64(pay.Effects(stripefake.Canceled)+pay.Effects(stripefake.Refunded)) / float64(held)
	} else {
		m.giveBacksPerEnded = -1
	}
	return m
}

// reconcile pages through the ops payment reconciliation on a replica and returns its
// mismatches (and payments still unsettled).
func reconcile(ctx context.Context, out io.Writer, c *client, bases []string, ops string) (int, error) {
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
