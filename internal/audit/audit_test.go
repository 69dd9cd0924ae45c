package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

var t0 = time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC)

// forBackends runs test once per store backend, in parallel.
func forBackends(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			test(t, tiffintest.NewStoreOn(t, d))
		})
	}
}

type entry struct{ actor, action, target string }

// record writes entries, one transaction each, a second apart from t0.
func record(tb testing.TB, db *store.DB, entries ...entry) {
	tb.Helper()
	for i, e := range entries {
		err := db.InTx(context.Background(), func(tx *store.Tx) error {
			return audit.Record(context.Background(), tx, e.actor, e.action, e.target, map[string]int{"n": i}, t0.Add(time.Duration(i)*time.Second))
		})
		if err != nil {
			tb.Fatalf("record %v: %v", e, err)
		}
	}
}

func list(tb testing.TB, db *store.DB, q audit.Query) []audit.Entry {
	tb.Helper()
	got, err := audit.List(context.Background(), db, q)
	if err != nil {
		tb.Fatalf("list %+v: %v", q, err)
	}
	return got
}

func seqs(es []audit.Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, db *store.DB) {
		record(t, db,
			entry{"ops:a", "customer.create", "customer:c-1"},
			entry{"ops:b", "customer.create", "customer:c-2"},
			entry{"ops:a", "customer.update", "customer:c-1"},
			entry{"ops:b", "customer.update", "customer:c-1"},
		)
		all := list(t, db, audit.Query{})
		if len(all) != 4 {
			t.Fatalf("got %d entries, want 4", len(all))
		}
		// Newest first: seq descending, and the last recorded on top.
		newest := all[0]
		want := audit.Entry{Seq: newest.Seq, Actor: "ops:b", Action: "customer.update", Target: "customer:c-1",
			Detail: json.RawMessage(`{"n":3}`), At: t0.Add(3 * time.Second)}
		if diff := cmp.Diff(want, newest); diff != "" {
			t.Errorf("newest entry (-want +got):\n%s", diff)
		}
		for i := 1; i < len(all); i++ {
			if all[i].Seq >= all[i-1].Seq {
				t.Errorf("entry %d has seq %d after %d: want newest first", i, all[i].Seq, all[i-1].Seq)
			}
		}
		s := seqs(all) // newest first: s[0] is the fourth recorded

		tests := []struct {
			name string
			q    audit.Query
			want []int64
		}{
			{"by target", audit.Query{Target: "customer:c-1"}, []int64{s[0], s[1], s[3]}},
			{"by actor", audit.Query{Actor: "ops:a"}, []int64{s[1], s[3]}},
			{"by target and actor", audit.Query{Target: "customer:c-1", Actor: "ops:b"}, []int64{s[0]}},
			{"limit", audit.Query{Limit: 2}, []int64{s[0], s[1]}},
			{"before", audit.Query{Before: s[1], Limit: 2}, []int64{s[2], s[3]}},
			{"before with target", audit.Query{Target: "customer:c-1", Before: s[0]}, []int64{s[1], s[3]}},
			{"before the oldest", audit.Query{Before: s[3]}, []int64{}},
			{"unknown target", audit.Query{Target: "customer:nobody"}, []int64{}},
		}
		for _, tt := range tests {
			if diff := cmp.Diff(tt.want, seqs(list(t, db, tt.q))); diff != "" {
				t.Errorf("%s: seqs (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

func TestRecordIsPartOfTheTransaction(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("the change failed")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := audit.Record(ctx, tx, "ops:a", "customer.update", "customer:c-1", nil, t0); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: got %v, want %v", err, boom)
		}
		if got := list(t, db, audit.Query{}); len(got) != 0 {
			t.Errorf("after rollback: got %+v, want no entries", got)
		}

		// A detail that can't be encoded fails the write, and nothing is recorded.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			return audit.Record(ctx, tx, "ops:a", "customer.update", "customer:c-1", map[string]any{"f": func() {}}, t0)
		})
		if err == nil {
			t.Fatal("Record with an unencodable detail: got nil error")
		}
		if got := list(t, db, audit.Query{}); len(got) != 0 {
			t.Errorf("after a failed record: got %+v, want no entries", got)
		}

		// No detail is recorded as none.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return audit.Record(ctx, tx, "ops:a", "customer.update", "customer:c-1", nil, t0)
		}); err != nil {
			t.Fatal(err)
		}
		got := list(t, db, audit.Query{})
		if len(got) != 1 || got[0].Detail != nil {
			t.Errorf("nil detail: got %+v, want one entry without detail", got)
		}
	})
}

func TestListRefusesBadQueries(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStore(t)
	for _, tt := range []struct {
		q    audit.Query
		want string
	}{
		{audit.Query{Limit: -1}, "query.limit"},
		{audit.Query{Limit: audit.MaxLimit + 1}, "query.limit"},
		{audit.Query{Before: -5}, "query.before"},
	} {
		_, err := audit.List(context.Background(), db, tt.q)
		var fe *fault.FieldError
		if !errors.As(err, &fe) || fe.Location != tt.want {
			t.Errorf("List(%+v): got %v, want a field error at %s", tt.q, err, tt.want)
		}
	}
}
