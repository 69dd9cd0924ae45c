package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps buckets in Redis, shared by every replica using it: the generic cell rate
// algorithm (GCRA), which keeps one number per key (the theoretical arrival time of the next
// event) and lets it expire once the bucket is full again. The clock is Redis's own (TIME), so
// replicas' clocks need not agree.
type Redis struct {
	client redis.Scripter
	prefix string
}

// NewRedis keeps buckets under keys starting with prefix.
func NewRedis(client redis.Scripter, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// gcra: KEYS[1] the bucket; ARGV interval (µs per token), burst, n (0 looks, 1 takes).
// Returns allowed (0/1), remaining, retry after (µs), reset (µs).
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * burst
local need = math.max(n, 1)
local allow_at = tat + interval * need - tolerance
if now < allow_at then
  local remaining = math.floor((now - (tat - tolerance)) / interval)
  return {0, math.max(remaining, 0), allow_at - now, tat - now}
end
local new_tat = tat + interval * n
if n > 0 then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {1, math.floor((now - (new_tat - tolerance)) / interval), 0, new_tat - now}
`)

// Allow takes n (0 or 1) events from key's bucket of rate r.
func (l *Redis) Allow(ctx context.Context, key string, r Rate, n int) (Decision, error) {
	if r.Off() {
		return Decision{Allowed: true, Remaining: -1}, nil
	}
	interval := r.interval().Microseconds()
	res, err := gcra.Run(ctx, l.client, []string{l.prefix + key}, max(interval, 1), r.burst(), n).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("ratelimit: redis: script answered %v", res)
	}
	return Decision{
		Allowed:    res[0] == 1,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
		Reset:      time.Duration(res[3]) * time.Microsecond,
	}, nil
}
