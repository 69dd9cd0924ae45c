package bench

import (
	"context"
	"database/sql"
	"fmt"
)

// tally is what the store says of a chaos run's orders.
type tally struct {
	Acknowledged int // orders that got a 201
	InStore      int // the run's orders in the store (acknowledged or not: a crash can eat the answer)
	Lost         int // acknowledged, not in the store
	Duplicated   int // logical orders (one customer each) with more than one order
	Stuck        int // acknowledged orders not ended, or whose payment is not settled
	// Unsettled counts orders in the store whose acknowledgement the client never got (a kill
	// took the answer) and that have not ended and settled yet (the restaurant timeout ends
	// them): the drain waits for them too, so the ledger is read once no money should be held.
	Unsettled int
	Delivered int
	Ended     int // cancelled, rejected or failed
	// Repeated counts order transitions made twice (an order entering one status twice: the
	// order machine has no cycles, so any repeat is work done twice, by a reconciler on two
	// replicas or a redelivered event). ReconcilerActions counts the transitions the
	// reconcilers made (payment give-ups, restaurant timeouts).
	Repeated, ReconcilerActions int
	Examples                    []string
}

// endStatuses are the order statuses no transition leaves.
var endStatuses = map[string]bool{"delivered": true, "cancelled": true, "rejected": true, "failed": true}

// settled reports whether a payment needs nothing more for its order's status.
func settled(orderStatus, payStatus string) bool {
	switch payStatus {
	case "pending", "authorizing", "capturing", "voiding", "refunding":
		return false
	case "authorized":
		return !endStatuses[orderStatus]
	case "captured":
		return orderStatus == "delivered"
	}
	return true // declined, voided, refunded, cancelled
}

// verify reads the run's orders and payments from the store and checks them against what
// was acknowledged.
func verify(ctx context.Context, db *sql.DB, run string, acked []ackedOrder) (tally, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT o.id, o.customer_id, o.status, p.status FROM orders o JOIN payments p ON p.order_id = o.id
		 WHERE o.customer_id LIKE $1`, "chaos-"+run+"-%")
	if err != nil {
		return tally{}, fmt.Errorf("read the run's orders: %w", err)
	}
	defer rows.Close()
	type row struct{ status, pay string }
	byID := map[string]row{}
	perCustomer := map[string]int{}
	for rows.Next() {
		var id, customer string
		var r row
		if err := rows.Scan(&id, &customer, &r.status, &r.pay); err != nil {
			return tally{}, err
		}
		byID[id] = r
		perCustomer[customer]++
	}
	if err := rows.Err(); err != nil {
		return tally{}, err
	}
	t := tally{Acknowledged: len(acked), InStore: len(byID)}
	for c, n := range perCustomer {
		if n > 1 {
			t.Duplicated++
			t.example(fmt.Sprintf("duplicated: customer %s has %d orders", c, n))
		}
	}
	if err := t.countTransitions(ctx, db, run); err != nil {
		return t, err
	}
	ackedIDs := make(map[string]bool, len(acked))
	for _, a := range acked {
		ackedIDs[a.id] = true
	}
	for id, r := range byID {
		if !ackedIDs[id] && (!endStatuses[r.status] || !settled(r.status, r.pay)) {
			t.Unsettled++
		}
	}
	for _, a := range acked {
		r, ok := byID[a.id]
		switch {
		case !ok:
			t.Lost++
			t.example("lost: " + a.id)
		case !endStatuses[r.status] || !settled(r.status, r.pay):
			t.Stuck++
			t.example(fmt.Sprintf("stuck: %s order %s payment %s", a.id, r.status, r.pay))
		case r.status == "delivered":
			t.Delivered++
		default:
			t.Ended++
		}
	}
	return t, nil
}

// countTransitions counts the run's repeated transitions and the reconcilers' actions.
func (t *tally) countTransitions(ctx context.Context, db *sql.DB, run string) error {
	rows, err := db.QueryContext(ctx,
		`SELECT h.order_id, h.status, COUNT(*), SUM(CASE WHEN h.actor = 'reconciler' THEN 1 ELSE 0 END)
		 FROM order_transitions h JOIN orders o ON o.id = h.order_id
		 WHERE o.customer_id LIKE $1 GROUP BY h.order_id, h.status`, "chaos-"+run+"-%")
	if err != nil {
		return fmt.Errorf("read the run's order transitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var n, byReconciler int
		if err := rows.Scan(&id, &status, &n, &byReconciler); err != nil {
			return err
		}
		t.ReconcilerActions += byReconciler
		if n > 1 {
			t.Repeated++
			t.example(fmt.Sprintf("repeated: order %s entered %s %d times", id, status, n))
		}
	}
	return rows.Err()
}

func (t *tally) example(s string) {
	if len(t.Examples) < 5 {
		t.Examples = append(t.Examples, s)
	}
}
