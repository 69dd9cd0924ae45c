package stripefake

import (
	"math"
	"net/http"
	"slices"
	"strconv"
)

func (s *Server) search(f form) reply {
	if k, bad := f.unknown("query", "limit", "page", "expand"); bad {
		return errorReply(unknownParam(k))
	}
	if s.cfg.NoSearch {
		return errorReply(errInvalid("", "", "Search is not available for this account."))
	}
	q, _ := f.str("query")
	clauses, err := parseQuery(q)
	if err != nil {
		return errorReply(errInvalid("parameter_invalid", "query", "Invalid query: "+err.Error()))
	}
	limit, e := pageLimit(f)
	if e != nil {
		return errorReply(e)
	}
	offset := 0
	if p, ok := f.str("page"); ok {
		if offset, err = strconv.Atoi(p); err != nil || offset < 0 {
			return errorReply(errInvalid("parameter_invalid", "page", "Invalid page."))
		}
	}
	visible := s.cfg.Now().Add(-s.cfg.SearchLag)
	candidates := s.order
	for _, c := range clauses {
		if c.field == "metadata" { // an exact metadata match: only the intents the index holds
			candidates = s.byMetadata[metaKey(c.key, c.value)]
			break
		}
	}
	var hits []any
	for _, pi := range slices.Backward(candidates) {
		if pi.created.After(visible) || !matches(pi, clauses) {
			continue
		}
		hits = append(hits, pi.json())
	}
	out := listJSON{Object: "search_result", Data: []any{}, URL: "/v1/payment_intents/search"}
	if offset < len(hits) {
		end := min(offset+limit, len(hits))
		out.Data = hits[offset:end]
		if end < len(hits) {
			next := strconv.Itoa(end)
			out.HasMore, out.NextPage = true, &next
		}
	}
	return jsonReply(http.StatusOK, out)
}

// metaKey is byMetadata's key for metadata key k holding value v.
func metaKey(k, v string) string { return k + "\x00" + v }

func matches(pi *intent, clauses []clause) bool {
	for _, c := range clauses {
		var got string
		switch c.field {
		case "metadata":
			got = pi.metadata[c.key]
		case "status":
			got = pi.status
		case "currency":
			got = pi.currency
		default:
			return false
		}
		if got != c.value {
			return false
		}
	}
	return true
}

func pageLimit(f form) (int, *apiError) {
	n, given, err := f.int("limit")
	if !given {
		return 10, nil
	}
	if err != nil || n < 1 || n > 100 {
		return 0, errInvalid("parameter_invalid_integer", "limit", "Invalid limit: must be between 1 and 100.")
	}
	return int(n), nil
}

// createdFilter reads created=N or created[gt|gte|lt|lte]=N into a predicate on unix seconds,
// and the oldest time it can keep (floor; math.MinInt64 when unbounded): lists run newest
// first in creation order, so a page stops reading at the first object older than floor.
func createdFilter(f form) (keep func(int64) bool, floor int64, _ *apiError) {
	preds := []func(int64) bool{}
	floor = math.MinInt64
	for k, v := range f.vals {
		if name(k) != "created" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, 0, errInvalid("parameter_invalid_integer", k, "Invalid integer: "+v)
		}
		switch k {
		case "created":
			preds = append(preds, func(t int64) bool { return t == n })
			floor = max(floor, n)
		case "created[gt]":
			preds = append(preds, func(t int64) bool { return t > n })
			if n < math.MaxInt64 {
				floor = max(floor, n+1)
			}
		case "created[gte]":
			preds = append(preds, func(t int64) bool { return t >= n })
			floor = max(floor, n)
		case "created[lt]":
			preds = append(preds, func(t int64) bool { return t < n })
		case "created[lte]":
			preds = append(preds, func(t int64) bool { return t <= n })
		default:
			return nil, 0, unknownParam(k)
		}
	}
	return func(t int64) bool {
		for _, p := range preds {
			if !p(t) {
				return false
			}
		}
		return true
	}, floor, nil
}

// listed is what list pages hold: objects kept in creation order.
type listed interface {
	listID() string
	createdUnix() int64
}

// listPage reads one newest-first page of all (kept in creation order, so created never
// decreases): the objects keep accepts, after the one named by starting_after, at most the
// page's limit of them. It reads only the page (and one more object, to tell has_more), not
// the whole list, so a client paging through a window costs what it reads.
func listPage[T listed](all []T, f form) (page []T, hasMore bool, _ *apiError) {
	keep, floor, e := createdFilter(f)
	if e != nil {
		return nil, false, e
	}
	limit, e := pageLimit(f)
	if e != nil {
		return nil, false, e
	}
	if _, ok := f.str("ending_before"); ok {
		return nil, false, errInvalid("parameter_unknown", "ending_before", "stripefake pages forward only (starting_after).")
	}
	i := len(all) - 1
	if after, ok := f.str("starting_after"); ok {
		at := len(all) - 1 // from the newest: a caller may cut all at the cursor
		for at >= 0 && all[at].listID() != after {
			at--
		}
		if at < 0 {
			return nil, false, errInvalid("resource_missing", "starting_after", "No such object: '"+after+"'")
		}
		i = at - 1
	}
	page = []T{}
	for ; i >= 0; i-- {
		t := all[i].createdUnix()
		if t < floor {
			break // everything older is older still
		}
		if !keep(t) {
			continue
		}
		if len(page) == limit {
			return page, true, nil
		}
		page = append(page, all[i])
	}
	return page, false, nil
}

func (s *Server) list(f form) reply {
	if k, bad := f.unknown("limit", "starting_after", "ending_before", "created", "expand"); bad {
		return errorReply(unknownParam(k))
	}
	all := s.order
	if after, ok := f.str("starting_after"); ok {
		if pi, ok := s.intents[after]; ok { // the cursor's place without a scan
			all = s.order[:pi.seq+1]
		}
	}
	page, more, e := listPage(all, f)
	if e != nil {
		return errorReply(e)
	}
	data := make([]any, len(page))
	for i, pi := range page {
		data[i] = pi.json()
	}
	return jsonReply(http.StatusOK, listJSON{Object: "list", Data: data, HasMore: more, URL: "/v1/payment_intents"})
}

func (s *Server) listRefunds(f form) reply {
	if k, bad := f.unknown("payment_intent", "limit", "starting_after", "ending_before", "created", "expand"); bad {
		return errorReply(unknownParam(k))
	}
	all := s.refunds
	if pi, only := f.str("payment_intent"); only {
		in, ok := s.intents[pi]
		if !ok {
			return errorReply(noSuchIntent(pi, "payment_intent"))
		}
		all = in.refunds
	}
	page, more, e := listPage(all, f)
	if e != nil {
		return errorReply(e)
	}
	data := make([]any, len(page))
	for i, re := range page {
		data[i] = re.json()
	}
	return jsonReply(http.StatusOK, listJSON{Object: "list", Data: data, HasMore: more, URL: "/v1/refunds"})
}
