package tiffintest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisEnv names the variable holding the Redis server tests use. When unset the project
// machines' server is tried: redis://127.0.0.1:6379/0.
const RedisEnv = "TIFFIN_TEST_REDIS"

// RequireRedisEnv, when set to 1, turns a missing Redis server into a test failure instead of
// a skip. CI sets it.
const RequireRedisEnv = "TIFFIN_REQUIRE_REDIS"

// Redis returns the URL of the Redis server tests use and a key prefix of this test's own
// (the server is shared, so every test writes under its own prefix; its keys are deleted when
// the test ends). It skips the test, loudly, when the server can't be reached and
// RequireRedisEnv is not set.
func Redis(tb testing.TB) (url, prefix string) {
	tb.Helper()
	u := RedisURL()
	opt, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("parse %s=%s: %v", RedisEnv, u, err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = client.Ping(ctx).Err()
	cancel()
	if err != nil {
		client.Close()
		msg := fmt.Sprintf("\n*** Redis NOT AVAILABLE at %s: %v\n*** Redis tests SKIPPED. Set %s or run .ci/run, which starts a server.\n", u, err, RedisEnv)
		skipLoudly(tb, "redis", RequireRedisEnv, msg)
	}
	prefix = fmt.Sprintf("tiffintest:%d:%d:", time.Now().UnixNano(), rand.IntN(1_000_000)) // #nosec G404 -- a unique name for a test's schema or key prefix; no secret
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Logf("delete redis keys %s*: %v", prefix, err)
		}
	})
	return u, prefix
}

// RedisURL returns the server tests use for Redis.
func RedisURL() string {
	if v := strings.TrimSpace(os.Getenv(RedisEnv)); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}
