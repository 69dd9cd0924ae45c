package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory keeps copies in this process, least recently used first out past a byte budget,
// and forgets copies older than MaxAge.
type Memory struct {
	budget int64
	maxAge time.Duration
	now    func() time.Time

	mu    sync.Mutex
	used  int64
	order *list.List // of *memoryEntry, most recently used first
	byKey map[string]*list.Element
}

type memoryEntry struct {
	key string
	c   Copy
}

// MemoryConfig configures Memory. The zero value works.
type MemoryConfig struct {
	// Budget bounds the bytes of keys and values kept. Default 64 MiB.
	Budget int64
	// MaxAge is how long a copy may be answered from. Default 1h.
	MaxAge time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// NewMemory returns an empty in-process backend.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.Budget <= 0 {
		cfg.Budget = 64 << 20
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memory{budget: cfg.Budget, maxAge: cfg.MaxAge, now: cfg.Now, order: list.New(), byKey: map[string]*list.Element{}}
}

// Get returns key's copy unless it is older than MaxAge.
func (m *Memory) Get(_ context.Context, key string) (Copy, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok {
		return Copy{}, false, nil
	}
	me := e.Value.(*memoryEntry)
	if m.now().Sub(me.c.Kept) > m.maxAge {
		m.remove(e)
		return Copy{}, false, nil
	}
	m.order.MoveToFront(e)
	return me.c, true, nil
}

// Put keeps c under key unless the copy there is of a newer version, then drops the least
// recently used copies until the budget holds.
func (m *Memory) Put(_ context.Context, key string, c Copy) error {
	size := int64(len(key) + len(c.Value))
	if size > m.budget {
		return errTooLarge
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[key]; ok {
		me := e.Value.(*memoryEntry)
		if me.c.Version > c.Version {
			return nil
		}
		m.used += int64(len(c.Value) - len(me.c.Value))
		me.c = c
		m.order.MoveToFront(e)
	} else {
		m.byKey[key] = m.order.PushFront(&memoryEntry{key: key, c: c})
		m.used += size
	}
	for m.used > m.budget {
		m.remove(m.order.Back())
	}
	return nil
}

func (m *Memory) remove(e *list.Element) {
	me := m.order.Remove(e).(*memoryEntry)
	delete(m.byKey, me.key)
	m.used -= int64(len(me.key) + len(me.c.Value))
}
