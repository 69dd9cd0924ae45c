package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// backends runs a test on every backend: in process, and in the real Redis server.
func backends(t *testing.T, run func(t *testing.T, b cache.Backend)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		run(t, cache.NewMemory(cache.MemoryConfig{}))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		url, prefix := tiffintest.Redis(t)
		r, err := cache.NewRedis(cache.RedisConfig{URL: url, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		run(t, r)
	})
}

func TestBackendKeepsNewestVersion(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b cache.Backend) {
		ctx := t.Context()
		if _, ok, err := b.Get(ctx, "order:none"); ok || err != nil {
			t.Fatalf("Get of a key never kept: ok %v, err %v; want false, nil", ok, err)
		}
		at := time.UnixMilli(time.Now().UnixMilli())
		steps := []struct {
			version int64
			value   string
			want    string
		}{
			{2, "v2", "v2"},
			{1, "v1", "v2"}, // older: refused
			{2, "v2 again", "v2 again"},
			{5, "v5", "v5"},
		}
		for _, s := range steps {
			if err := b.Put(ctx, "order:o1", cache.Copy{Version: s.version, Kept: at, Value: []byte(s.value)}); err != nil {
				t.Fatalf("Put v%d: %v", s.version, err)
			}
			got, ok, err := b.Get(ctx, "order:o1")
			if err != nil || !ok {
				t.Fatalf("Get after Put v%d: ok %v, err %v", s.version, ok, err)
			}
			if string(got.Value) != s.want {
				t.Errorf("after Put v%d %q: got %q, want %q", s.version, s.value, got.Value, s.want)
			}
			if !got.Kept.Equal(at) {
				t.Errorf("Kept: got %v, want %v", got.Kept, at)
			}
		}
		if err := b.Put(ctx, "order:o2", cache.Copy{Version: 1, Kept: at, Value: []byte("other")}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := b.Get(ctx, "order:o1"); string(got.Value) != "v5" {
			t.Errorf("o1 after putting o2: got %q, want v5", got.Value)
		}
	})
}

func TestMemoryStaysWithinBudgetAndAge(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	m := cache.NewMemory(cache.MemoryConfig{Budget: 100, MaxAge: time.Minute, Now: func() time.Time { return now }})
	ctx := t.Context()
	put := func(key string, size int) {
		t.Helper()
		if err := m.Put(ctx, key, cache.Copy{Kept: now, Value: []byte(strings.Repeat("x", size))}); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
	}
	has := func(key string) bool {
		_, ok, _ := m.Get(ctx, key)
		return ok
	}
	put("a", 30)
	put("b", 30)
	has("a") // a is now used more recently than b
	put("c", 30)
	if !has("a") || !has("b") || !has("c") {
		t.Fatalf("three copies of 31 bytes in a budget of 100: want all kept")
	}
	has("a")
	has("c")
	put("d", 30) // 124 bytes: the least recently used, b, goes
	if has("b") {
		t.Errorf("b was the least recently used: want it dropped")
	}
	for _, k := range []string{"a", "c", "d"} {
		if !has(k) {
			t.Errorf("%s: want kept", k)
		}
	}
	if err := m.Put(ctx, "huge", cache.Copy{Value: make([]byte, 200)}); err == nil {
		t.Errorf("a copy larger than the budget: want an error")
	}
	now = now.Add(2 * time.Minute)
	if has("a") {
		t.Errorf("a copy older than MaxAge: want it forgotten")
	}
}

type menu struct {
	ID    string
	Items []string
}

var errDown = errors.New("store down")

func TestReadFallsBackOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b cache.Backend) {
		ctx := t.Context()
		c := cache.New(b, cache.Config{Fallback: func(err error) bool { return errors.Is(err, errDown) }})
		fresh := menu{ID: "r1", Items: []string{"dosa", "idli"}}
		var loadErr error
		load := func(context.Context) (menu, int64, error) {
			if loadErr != nil {
				return menu{}, 0, loadErr
			}
			return fresh, 3, nil
		}

		got, stale, err := cache.Read(ctx, c, "menu:r1", load)
		if err != nil || stale {
			t.Fatalf("fresh read: stale %v, err %v; want false, nil", stale, err)
		}
		if diff := cmp.Diff(fresh, got); diff != "" {
			t.Errorf("fresh read (-want +got):\n%s", diff)
		}

		loadErr = errDown
		got, stale, err = cache.Read(ctx, c, "menu:r1", load)
		if err != nil || !stale {
			t.Fatalf("read while down: stale %v, err %v; want true, nil", stale, err)
		}
		if diff := cmp.Diff(fresh, got); diff != "" {
			t.Errorf("stale read (-want +got):\n%s", diff)
		}

		if _, _, err = cache.Read(ctx, c, "menu:never-read", load); !errors.Is(err, errDown) {
			t.Errorf("read while down without a copy: got %v, want the load's error", err)
		}

		notFound := fmt.Errorf("menu: %w", errors.New("not found"))
		loadErr = notFound
		if _, stale, err = cache.Read(ctx, c, "menu:r1", load); !errors.Is(err, notFound) || stale {
			t.Errorf("read failing otherwise: stale %v, err %v; want false and the load's error", stale, err)
		}
	})
}

// unreachable is a backend that never answers in time.
type unreachable struct{}

func (unreachable) Get(ctx context.Context, _ string) (cache.Copy, bool, error) {
	<-ctx.Done()
	return cache.Copy{}, false, ctx.Err()
}

func (unreachable) Put(ctx context.Context, _ string, _ cache.Copy) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestReadSurvivesABackendThatHangs(t *testing.T) {
	t.Parallel()
	c := cache.New(unreachable{}, cache.Config{Timeout: 50 * time.Millisecond, Fallback: func(error) bool { return true }})
	start := time.Now()
	got, stale, err := cache.Read(t.Context(), c, "menu:r1", func(context.Context) (menu, int64, error) {
		return menu{ID: "r1"}, 1, nil
	})
	if err != nil || stale || got.ID != "r1" {
		t.Errorf("fresh read with a hanging backend: got %+v, stale %v, err %v; want r1, false, nil", got, stale, err)
	}
	if _, _, err := cache.Read(t.Context(), c, "menu:r1", func(context.Context) (menu, int64, error) {
		return menu{}, 0, errDown
	}); !errors.Is(err, errDown) {
		t.Errorf("failed read with a hanging backend: got %v, want the load's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("two reads took %v with a backend bounded at 50ms", d)
	}
}
