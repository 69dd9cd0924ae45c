// Package dispatchbench measures the dispatch planner (package plan) at scale, for tiffin bench
// dispatch: rounds of N orders and M couriers in a synthetic city, the optimal planner's round
// time and where it goes (candidate search, pricing, the assignment), and its cost set against
// the dense optimum over every courier, the greedy planner on the same rounds, and two
// proposed candidate sets (plan.BothSides: each courier's nearest orders added to each order's
// nearest couriers; plan.Refilled: then idle couriers for held orders, solved again). It owns
// the synthetic city (city.go), the measurement (Run) and its table (report.go).
package dispatchbench
