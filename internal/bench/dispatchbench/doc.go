// Package dispatchbench measures the dispatch planner (package plan) at scale, for tiffin bench
// dispatch: rounds of N orders and M couriers in a synthetic city, the optimal planner's round
// time and where it goes (candidate search, pricing, the assignment), and its cost set against
// the dense optimum over every courier, the greedy planner on the same rounds, and the
// planner's former candidate set (plan.OrderSide: each order's nearest couriers only, without
// each courier's nearest orders). It owns
// the synthetic city (city.go), the measurement (Run) and its table (report.go).
package dispatchbench
