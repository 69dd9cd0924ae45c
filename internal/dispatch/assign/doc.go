// Package assign solves the linear assignment problem dispatch plans with: R rows (orders or
// bundles) and C columns (couriers), each row matched to at most one column and each column to
// at most one row. Matching row i to column j costs c(i, j); leaving row i unmatched costs
// skip[i], what holding that order for a later round costs. A solver returns an assignment of
// least total cost, the matched costs plus the skips of the unmatched rows; R may be smaller or
// larger than C. The package is pure: no I/O, no globals, nothing beyond the standard library.
//
// # Shapes and units
//
// Costs and skips share one unit, whatever the caller uses (seconds of travel, say); only their
// sums are compared. [Dense] takes the full row-major matrix, cost[i*cols+j], with math.Inf(1)
// for a forbidden pair. [Sparse] takes only the allowed pairs as [Edge]s (each row's k nearest
// couriers, say) and returns the exact optimum of the problem restricted to them; a pair listed
// twice counts at its smaller cost and one costing +Inf is ignored. skip has one entry per row.
// Costs may be any finite number, negative too, or +Inf; skips must be finite. Sums of costs
// must stay far from overflow: the solvers do not guard against it. [Result] gives each row's
// column, -1 for a row left unmatched, and the total cost. A [Solver] keeps its scratch space
// between calls.
//
// # Errors
//
// Malformed input, found before any work is done, returns an error wrapping [ErrInput] and no
// Result: a negative row or column count or one over math.MaxInt32, len(cost) != rows*cols,
// len(skip) != rows, an edge outside the rows x cols matrix, a NaN or -Inf cost, a NaN or
// infinite skip. Every well-formed problem has a solution (any row may stay unmatched), so
// there is no other error.
//
// # Algorithm
//
// Leaving row i unmatched is matching it to a private skip column that only row i can take, at
// cost skip[i]: the R x (C+R) problem in which every row is matched. Skip columns are never
// stored. An assignment is optimal when column prices v (dual values, at most zero) leave every
// reduced cost c(i, j) - v[j] - u[i] non-negative and zero on the matched pairs (u[i] being row
// i's dual value), with every unmatched column, skip columns included, at price zero.
//
// The solvers run four phases over per-row candidate lists:
//
//  1. Prices: D. P. Bertsekas' auction with ε-scaling ("The auction algorithm: a distributed
//     relaxation method for the assignment problem", Annals of Operations Research 14, 1988),
//     forward and reverse as D. P. Bertsekas and D. A. Castañon, "A forward/reverse auction
//     algorithm for asymmetric assignment problems" (Computational Optimization and
//     Applications 1, 1992), run it for problems with more columns than rows. It brings the
//     prices near optimal ones quickly but is a heuristic: the phases below reach the optimum
//     from any prices.
//  2. Augmenting row reduction, as R. Jonker and A. Volgenant, "A shortest augmenting path
//     algorithm for dense and sparse linear assignment problems" (Computing 38, 1987) have it,
//     from the auction's prices and no assignment.
//  3. JV's shortest augmenting paths, one for each row still free: Dijkstra's algorithm with a
//     binary heap over reduced costs (the Hungarian method with potentials), stopped at the
//     first way out, a free column or the skip column of a row on the way.
//  4. Clean: a column the auction priced below zero may end unmatched. For each, the mirror
//     image of phase 3 over columns moves rows along a shortest path until a column at the top
//     price is freed instead, which restores the optimality conditions.
//
// The auction takes the place of JV's first phase, column reduction, which prices each column
// at its cheapest row: that suits square problems, where every column ends up matched, but
// here C of the C+R columns always stay unmatched and would need cleaning.
//
// A row is looked at through its candidate list, its k columns of least reduced cost when the
// list was chosen (16 for Dense, 32 for Sparse), and a lower bound on the reduced cost of its
// other columns. When the list cannot settle a question, the row is read in full (the whole
// matrix row for Dense, all its edges for Sparse) and its list chosen again; a search labels a
// row's columns off the list only when its distance reaches the bound. This is the idea of A.
// Volgenant's core for sparse problems ("Linear and semi-assignment problems: a core oriented
// approach", Computers & Operations Research 23, 1996), kept exact here by the bound: Dense is
// JV's dense algorithm that reads a whole row only when it must.
//
// A shortest augmenting path costs O(E log E) at worst, E being the number of edges (R*C for
// Dense), and there is at most one per row and one per column cleaned; the auction's bids are
// capped at a fixed number per row. With the auction's prices, few rows need a search and the
// searches are short.
package assign
