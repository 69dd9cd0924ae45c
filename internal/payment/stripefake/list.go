package stripefake

import (
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

// createdFilter reads created=N or created[gt|gte|lt|lte]=N into a predicate on unix seconds.
func createdFilter(f form) (func(int64) bool, *apiError) {
	preds := []func(int64) bool{}
	for k, v := range f.vals {
		if name(k) != "created" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errInvalid("parameter_invalid_integer", k, "Invalid integer: "+v)
		}
		switch k {
		case "created":
			preds = append(preds, func(t int64) bool { return t == n })
		case "created[gt]":
			preds = append(preds, func(t int64) bool { return t > n })
		case "created[gte]":
			preds = append(preds, func(t int64) bool { return t >= n })
		case "created[lt]":
			preds = append(preds, func(t int64) bool { return t < n })
		case "created[lte]":
			preds = append(preds, func(t int64) bool { return t <= n })
		default:
			return nil, unknownParam(k)
		}
	}
	return func(t int64) bool {
		for _, p := range preds {
			if !p(t) {
				return false
			}
		}
		return true
	}, nil
}

// page cuts a newest-first list of IDs after starting_after, to limit.
func page(ids []string, f form) (from, to int, hasMore bool, e *apiError) {
	limit, e := pageLimit(f)
	if e != nil {
		return 0, 0, false, e
	}
	if _, ok := f.str("ending_before"); ok {
		return 0, 0, false, errInvalid("parameter_unknown", "ending_before", "stripefake pages forward only (starting_after).")
	}
	if after, ok := f.str("starting_after"); ok {
		i := slices.Index(ids, after)
		if i < 0 {
			return 0, 0, false, errInvalid("resource_missing", "starting_after", "No such object: '"+after+"'")
		}
		from = i + 1
	}
	to = min(from+limit, len(ids))
	return from, to, to < len(ids), nil
}

func (s *Server) list(f form) reply {
	if k, bad := f.unknown("limit", "starting_after", "ending_before", "created", "expand"); bad {
		return errorReply(unknownParam(k))
	}
	keep, e := createdFilter(f)
	if e != nil {
		return errorReply(e)
	}
	var ids []string
	var objs []any
	for _, pi := range slices.Backward(s.order) {
		if keep(pi.created.Unix()) {
			ids, objs = append(ids, pi.id), append(objs, pi.json())
		}
	}
	from, to, more, e := page(ids, f)
	if e != nil {
		return errorReply(e)
	}
	return jsonReply(http.StatusOK, listJSON{Object: "list", Data: append([]any{}, objs[from:to]...), HasMore: more, URL: "/v1/payment_intents"})
}

func (s *Server) listRefunds(f form) reply {
	if k, bad := f.unknown("payment_intent", "limit", "starting_after", "ending_before", "created", "expand"); bad {
		return errorReply(unknownParam(k))
	}
	keep, e := createdFilter(f)
	if e != nil {
		return errorReply(e)
	}
	pi, only := f.str("payment_intent")
	if only {
		if _, ok := s.intents[pi]; !ok {
			return errorReply(noSuchIntent(pi, "payment_intent"))
		}
	}
	var ids []string
	var objs []any
	for _, re := range slices.Backward(s.refunds) {
		if (!only || re.intent == pi) && keep(re.created.Unix()) {
			ids, objs = append(ids, re.id), append(objs, re.json())
		}
	}
	from, to, more, e := page(ids, f)
	if e != nil {
		return errorReply(e)
	}
	return jsonReply(http.StatusOK, listJSON{Object: "list", Data: append([]any{}, objs[from:to]...), HasMore: more, URL: "/v1/refunds"})
}
