package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps copies in a Redis server, shared by every replica pointed at it. Each copy is a
// hash (v: version, k: kept at, unix ms, b: value) under Prefix+key that expires MaxAge after
// it was last kept; a script replaces it only with a copy of the same or a newer version.
type Redis struct {
	client *redis.Client
	prefix string
	maxAge time.Duration
}

// RedisConfig configures Redis.
type RedisConfig struct {
	// URL is the server, e.g. redis://127.0.0.1:6379/0 (go-redis's ParseURL syntax).
	URL string
	// Prefix starts every key. Default "tiffin:".
	Prefix string
	// MaxAge is how long a copy is kept after it was last written. Default 1h.
	MaxAge time.Duration
}

// NewRedis connects to cfg.URL. It does not wait for the server: a Redis that is down costs
// reads their fallback, never the reads themselves. Unless the URL sets them, dialling,
// reading and writing time out after 500ms, and a failed command is retried once.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("cache: redis url: %w", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 500 * time.Millisecond
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tiffin:"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	return &Redis{client: redis.NewClient(opt), prefix: cfg.Prefix, maxAge: cfg.MaxAge}, nil
}

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache: redis: %w", err)
	}
	return nil
}

// Client is the Redis client, for others sharing the connection (the edge's rate limits).
func (r *Redis) Client() *redis.Client { return r.client }

// Close closes the client's connections.
func (r *Redis) Close() error { return r.client.Close() }

// putNewer sets the copy unless the one kept has a newer version, and renews its expiry.
var putNewer = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'k', ARGV[2], 'b', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

// Put keeps c under key unless a copy of a newer version is kept there.
func (r *Redis) Put(ctx context.Context, key string, c Copy) error {
	err := putNewer.Run(ctx, r.client, []string{r.prefix + key},
		c.Version, c.Kept.UnixMilli(), c.Value, r.maxAge.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("cache: redis put %s: %w", key, err)
	}
	return nil
}

// Get returns the copy kept under key, if there is one.
func (r *Redis) Get(ctx context.Context, key string) (Copy, bool, error) {
	vals, err := r.client.HMGet(ctx, r.prefix+key, "v", "k", "b").Result()
	if err != nil {
		return Copy{}, false, fmt.Errorf("cache: redis get %s: %w", key, err)
	}
	if len(vals) != 3 || vals[0] == nil || vals[2] == nil {
		return Copy{}, false, nil
	}
	v, verr := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
	k, kerr := strconv.ParseInt(fmt.Sprint(vals[1]), 10, 64)
	b, ok := vals[2].(string)
	if err := errors.Join(verr, kerr); err != nil || !ok {
		return Copy{}, false, fmt.Errorf("cache: redis get %s: malformed copy: %v", key, err)
	}
	return Copy{Version: v, Kept: time.UnixMilli(k), Value: []byte(b)}, true, nil
}
