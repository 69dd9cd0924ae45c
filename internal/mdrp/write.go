package mdrp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The three files of a solution, as the evaluator names them.
const (
	AssignmentsFile  = "solution_info_assignments.txt"
	OrderTimesFile   = "solution_info_orders.txt"
	CourierMovesFile = "solution_info_couriers.txt"
)

// WriteSolution writes sol into dir (created if missing) as the public evaluator
// (grubhub/mdrplib, MDRP_code/compute_performance_summary.py) reads it. Every file has one
// header line, then lines of fields joined by single spaces (the evaluator reads the orders file
// with sep=' ', so a double or trailing space would shift its columns), ids as the instance
// spells them and times as whole minutes:
//
//   - solution_info_assignments.txt: "assignment_time pickup_time courier order..." per route, in
//     commit order, the orders in drop-off sequence. The header is skipped unread.
//   - solution_info_orders.txt: "order placement_time ready_time pickup_time dropoff_time courier"
//     per delivered order, in the instance's order; the evaluator finds columns by these names.
//   - solution_info_couriers.txt: "courier departure_time origin destination" per move. The
//     evaluator takes a line whose second field is not a number for the header, and a courier's
//     moves must be consecutive lines (a second group of the same courier would replace the
//     first), in the order they happen. Origin 0 is the courier's start; other places are a
//     restaurant id or an order id (that order's drop-off). A courier without routes has no line.
//
// Moves are derived from the routes' times (see legs): to the restaurant at Depart, on from it
// half a pickup service after Pickup and from each drop-off half a drop-off service after it.
// Routes are written as they are, feasible or not (run Check for that); a route whose indexes
// do not fit inst is an error.
func WriteSolution(dir string, inst *Instance, sol *Solution) error {
	for i, r := range sol.Routes {
		if why := malformed(inst, r); why != "" {
			return fmt.Errorf("write solution: route %d: %s", i, why)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { // #nosec G301 -- benchmark results and scripts, meant to be read and shared: 0755/0644 on purpose
		return fmt.Errorf("write solution: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{AssignmentsFile, assignmentLines(inst, sol)},
		{OrderTimesFile, orderLines(inst, sol)},
		{CourierMovesFile, moveLines(inst, sol)},
	}
	var errs []error
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil { // #nosec G306 -- benchmark results and scripts, meant to be read and shared: 0755/0644 on purpose
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("write solution: %w", err)
	}
	return nil
}

// lines builds a file of lines of space-separated fields.
type lines struct{ bytes.Buffer }

func (l *lines) add(fields ...string) {
	for i, f := range fields {
		if i > 0 {
			l.WriteByte(' ')
		}
		l.WriteString(f)
	}
	l.WriteByte('\n')
}

func assignmentLines(inst *Instance, sol *Solution) []byte {
	var l lines
	l.add("assignment_time", "pickup_time", "courier", "orders")
	for _, r := range sol.Routes {
		fields := []string{strconv.Itoa(r.Assigned), strconv.Itoa(r.Pickup), inst.Couriers[r.Courier].ID}
		for _, o := range r.Orders {
			fields = append(fields, inst.Orders[o].ID)
		}
		l.add(fields...)
	}
	return l.Bytes()
}

func orderLines(inst *Instance, sol *Solution) []byte {
	type delivery struct{ route, seq int }
	delivered := make(map[int][]delivery)
	for i, r := range sol.Routes {
		for j, o := range r.Orders {
			delivered[o] = append(delivered[o], delivery{i, j})
		}
	}
	var l lines
	l.add("order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier")
	for o, order := range inst.Orders {
		for _, d := range delivered[o] { // more than one only in an infeasible solution
			r := sol.Routes[d.route]
			l.add(order.ID, strconv.Itoa(order.Placed), strconv.Itoa(order.Ready),
				strconv.Itoa(r.Pickup), strconv.Itoa(r.Dropoffs[d.seq]), inst.Couriers[r.Courier].ID)
		}
	}
	return l.Bytes()
}

func moveLines(inst *Instance, sol *Solution) []byte {
	var l lines
	l.add("courier", "departure_time", "origin", "destination")
	for c, routes := range courierRoutes(inst, sol) {
		for _, m := range legs(inst, sol, c, routes) {
			l.add(inst.Couriers[c].ID, strconv.Itoa(m.Depart), m.From.ID, m.To.ID)
		}
	}
	return l.Bytes()
}
