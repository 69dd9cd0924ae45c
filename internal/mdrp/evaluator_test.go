package mdrp

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// evaluate reads the solution files in dir the way the public evaluator does (as read in
// grubhub/mdrplib, MDRP_code/compute_performance_summary.py) and replays its feasibility checks
// and metrics, independently of WriteSolution, Check and Measure, so tests can tell whether the
// evaluator would accept what WriteSolution writes and agree with Measure. Each problem is a
// check it would fail or a place where it would crash.
func evaluate(tb testing.TB, inst *Instance, dir string) (problems []string, m Metrics) {
	tb.Helper()
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := inst.Params
	orders := make(map[string]Order)
	couriers := make(map[string]Courier)
	where := make(map[string]Point)
	for _, o := range inst.Orders {
		orders[o.ID], where[o.ID] = o, o.Dropoff
	}
	for _, r := range inst.Restaurants {
		where[r.ID] = r.At
	}
	for _, c := range inst.Couriers {
		couriers[c.ID], where[c.ID] = c, c.Start
	}
	travel := func(a, b string) int {
		pa, ok1 := where[a]
		pb, ok2 := where[b]
		if !ok1 || !ok2 {
			fail("crash: no location for %q or %q", a, b)
		}
		return int(math.Ceil(math.Sqrt(math.Pow(pb.X-pa.X, 2)+math.Pow(pb.Y-pa.Y, 2)) / p.MetersPerMinute))
	}
	read := func(name string) []string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") // Python's readlines
	}
	number := func(s string) int { // Python's int(float(s))
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			fail("crash: %q is not a number", s)
		}
		return int(v)
	}

	// Assignments: whitespace-split lines, the first skipped.
	type assignment struct {
		at, pickup int
		courier    string
		bundle     []string
	}
	var as []assignment
	for _, line := range read(AssignmentsFile)[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			fail("crash: assignment line %q has fewer than 4 fields", line)
			continue
		}
		as = append(as, assignment{number(f[0]), number(f[1]), f[2], f[3:]})
	}

	// Orders: pandas read_table(sep=' '): columns by header name, exactly one space between.
	type delivery struct{ pickup, drop int }
	lines := read(OrderTimesFile)
	head := strings.Split(strings.TrimSpace(lines[0]), " ")
	col := func(name string) int {
		i := slices.Index(head, name)
		if i < 0 {
			tb.Fatalf("orders header %q has no column %q", lines[0], name)
		}
		return i
	}
	iOrder, iPickup, iDrop, iCourier := col("order"), col("pickup_time"), col("dropoff_time"), col("courier")
	col("placement_time")
	col("ready_time")
	deliveries := make(map[string]delivery)
	var rows [][]string
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(strings.TrimRight(line, "\n"), " ")
		if len(f) != len(head) {
			fail("crash: orders line %q has %d fields, header %d", line, len(f), len(head))
			continue
		}
		if _, dup := deliveries[f[iOrder]]; dup {
			fail("order %s has two lines", f[iOrder])
		}
		deliveries[f[iOrder]] = delivery{number(f[iPickup]), number(f[iDrop])}
		rows = append(rows, f)
	}

	// Courier moves: the first line is the header when its second field is not a number; a
	// courier's moves are the consecutive lines naming it.
	type move struct {
		depart   int
		from, to string
	}
	moves := make(map[string][]move)
	var seen []string
	for k, line := range read(CourierMovesFile) {
		f := strings.Fields(line)
		if k == 0 {
			if len(f) < 2 {
				continue
			}
			if _, err := strconv.ParseFloat(f[1], 64); err != nil {
				continue
			}
			fail("no header line in %s", CourierMovesFile)
		}
		if len(f) == 0 {
			continue
		}
		if len(seen) == 0 || seen[len(seen)-1] != f[0] {
			if slices.Contains(seen, f[0]) {
				fail("courier %s's moves are not consecutive: the evaluator keeps only one group", f[0])
			}
			seen = append(seen, f[0])
		}
		from := f[2]
		if from == "0" {
			from = f[0]
		}
		moves[f[0]] = append(moves[f[0]], move{number(f[1]), from, f[3]})
	}

	// The feasibility checks, in the evaluator's order.
	carriers := make(map[string]int)
	for _, a := range as {
		for _, o := range a.bundle {
			carriers[o]++
		}
	}
	for o := range deliveries {
		if carriers[o] > 1 {
			fail("order %s in %d assignments", o, carriers[o])
		}
	}
	perCourier := make(map[string]int) // bundles
	for _, a := range as {
		c, ok := couriers[a.courier]
		if !ok {
			fail("crash: unknown courier %s", a.courier)
			continue
		}
		perCourier[a.courier]++
		if c.Off < a.pickup {
			fail("bundle %v picked up at %d after off time %d", a.bundle, a.pickup, c.Off)
		}
		prev := math.MinInt
		for _, id := range a.bundle {
			o, ok := orders[id]
			d, ok2 := deliveries[id]
			if !ok || !ok2 {
				fail("crash: order %s unknown or without a line", id)
				continue
			}
			if a.at < o.Placed {
				fail("order %s assigned at %d before placed at %d", id, a.at, o.Placed)
			}
			if o.Ready > a.pickup {
				fail("order %s picked up at %d before ready at %d", id, a.pickup, o.Ready)
			}
			if prev != math.MinInt && d.drop < prev+p.DropoffService {
				fail("order %s dropped at %d, less than a service after %d", id, d.drop, prev)
			}
			prev = d.drop
		}
	}
	type timeline struct {
		times  []int
		places []string
	}
	lines2 := make(map[string]*timeline)
	driving := make(map[string]int)
	for id, ms := range moves {
		c, ok := couriers[id]
		if !ok {
			fail("crash: moves of unknown courier %s", id)
			continue
		}
		tl := &timeline{[]int{c.On}, []string{id}}
		for _, mv := range ms {
			if mv.from != tl.places[len(tl.places)-1] {
				fail("courier %s leaves %s, is at %s", id, mv.from, tl.places[len(tl.places)-1])
			}
			tt := travel(mv.from, mv.to)
			tl.times = append(tl.times, mv.depart, mv.depart+tt)
			tl.places = append(tl.places, "", mv.to)
			driving[id] += tt
		}
		if !slices.IsSorted(tl.times) {
			fail("courier %s departs before arriving: %v", id, tl.times)
		}
		lines2[id] = tl
	}
	// at is where courier id is just before time t: bisect_left(times, t) - 1, -1 being the last.
	at := func(id string, t int) string {
		tl, ok := lines2[id]
		if !ok {
			fail("crash: courier %s has no moves", id)
			return ""
		}
		i, _ := slices.BinarySearch(tl.times, t)
		if i--; i < 0 {
			i = len(tl.places) - 1
		}
		return tl.places[i]
	}
	for _, f := range rows {
		id, c := f[iOrder], f[iCourier]
		if _, ok := couriers[c]; !ok {
			continue
		}
		if got := at(c, deliveries[id].drop); got != id {
			fail("order %s dropped at %d where courier %s is at %q", id, deliveries[id].drop, c, got)
		}
	}
	for _, a := range as {
		if o, ok := orders[a.bundle[0]]; ok {
			rid := inst.Restaurants[o.Restaurant].ID
			if got := at(a.courier, a.pickup); got != rid {
				fail("bundle %v picked up at %d where courier %s is at %q", a.bundle, a.pickup, a.courier, got)
			}
		}
	}

	// The metrics, as the evaluator defines them.
	m = Metrics{Instance: inst.Name, Orders: len(inst.Orders), Delivered: len(rows)}
	var c2d, over, r2d, r2p []float64
	served := make(map[string]int)
	for _, f := range rows {
		o, d := orders[f[iOrder]], deliveries[f[iOrder]]
		c2d = append(c2d, float64(d.drop-o.Placed))
		over = append(over, math.Max(0, float64(d.drop-o.Placed-p.TargetClickToDoor)))
		r2d = append(r2d, float64(d.drop-o.Ready))
		r2p = append(r2p, float64(d.pickup-o.Ready))
		served[f[iCourier]]++
	}
	m.ClickToDoor, m.Overage, m.ReadyToDoor, m.ReadyToPickup = dist(c2d), dist(over), dist(r2d), dist(r2p)
	m.DeliveredFraction = float64(m.Delivered) / float64(m.Orders)
	trueUp := 0
	for _, c := range inst.Couriers {
		shift := float64(c.Off - c.On)
		guaranteed := shift * p.GuaranteedPerHour / 60
		earned := float64(served[c.ID]) * p.PayPerOrder
		m.Pay += math.Max(earned, guaranteed)
		if earned < guaranteed {
			trueUp++
		}
		work := driving[c.ID] + p.DropoffService*served[c.ID] + p.PickupService*perCourier[c.ID]
		m.Utilisation += float64(work) / shift / float64(len(inst.Couriers))
		m.OrdersPerHour += 60 * float64(served[c.ID]) / shift / float64(len(inst.Couriers))
	}
	m.GuaranteedFraction = float64(trueUp) / float64(len(inst.Couriers))
	m.PayPerOrder = m.Pay / float64(m.Delivered)
	bundled := 0
	for _, a := range as {
		bundled += len(a.bundle)
	}
	m.BundleSize = float64(bundled) / float64(len(as))
	return problems, m
}
