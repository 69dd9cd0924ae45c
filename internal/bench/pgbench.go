package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The yardstick: the cheapest durable write PostgreSQL can do, one row per transaction.
const (
	yardstickTable = `(
	id bigserial PRIMARY KEY,
	payload text NOT NULL,
	created_at bigint NOT NULL
)`
	yardstickScript = "INSERT INTO bench_yardstick (payload, created_at) VALUES ('x', 1);\n"
)

// findPgbench looks for pgbench in PATH, then in Debian's /usr/lib/postgresql/*/bin, newest
// major version first.
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(found) == 0 {
		return "", errors.New("not in PATH nor in /usr/lib/postgresql/*/bin")
	}
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(found, func(a, b string) int { return major(b) - major(a) })
	return found[0], nil
}

// pgbenchDuration is d rounded up to whole seconds, as pgbench -T takes it.
func pgbenchDuration(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// runPgbench inserts single rows into a table in s's schema with pgbench for d, from
// concurrency clients, and summarises its output and per-transaction log.
func runPgbench(ctx context.Context, pgbench string, s *schema, concurrency int, d time.Duration) (Result, error) {
	if _, err := s.admin.ExecContext(ctx, `CREATE TABLE `+s.name+`.bench_yardstick `+yardstickTable); err != nil {
		return Result{}, fmt.Errorf("create yardstick table: %w", err)
	}
	dir, err := os.MkdirTemp("", "tiffin-pgbench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(script, []byte(yardstickScript), 0o644); err != nil { // #nosec G306 -- a file the benchmark writes or reads under its own output directory
		return Result{}, err
	}
	d = pgbenchDuration(d)
	args := []string{"-n", "-c", strconv.Itoa(concurrency), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())),
		"-f", script, "-l", "--log-prefix", filepath.Join(dir, "pgbench")}
	args = append(args, connArgs(s)...)
	cmd := exec.CommandContext(ctx, pgbench, args...) // #nosec G204 -- pgbench from PATH with the bench's own arguments
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), pgEnv(s)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s: %w\n%s%s", pgbench, err, stdout.Bytes(), lastLines(stderr.String(), 10))
	}
	sum, err := parsePgbenchOutput(stdout.String())
	if err != nil {
		return Result{}, err
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "pgbench.*"))
	if len(logs) == 0 {
		return Result{}, errors.New("pgbench wrote no transaction log")
	}
	var lat []time.Duration
	failed := 0
	for _, p := range logs {
		l, f, err := readPgbenchLog(p)
		if err != nil {
			return Result{}, err
		}
		lat = append(lat, l...)
		failed += f
	}
	res := Result{Orders: len(lat), Errors: max(failed, sum.Failed), Duration: d, PerSecond: sum.TPS}
	summarize(&res, lat)
	return res, nil
}

// connArgs are pgbench's -h -p -U and dbname for the server s lives on.
func connArgs(s *schema) []string {
	var args []string
	if h := s.base.Hostname(); h != "" {
		args = append(args, "-h", h)
	}
	if p := s.base.Port(); p != "" {
		args = append(args, "-p", p)
	}
	if u := s.base.User.Username(); u != "" {
		args = append(args, "-U", u)
	}
	if db := strings.TrimPrefix(s.base.Path, "/"); db != "" {
		args = append(args, db)
	}
	return args
}

// pgEnv passes what the URL says beyond connArgs, and the schema, through libpq's environment.
func pgEnv(s *schema) []string {
	env := []string{"PGOPTIONS=-c search_path=" + s.name}
	if pw, ok := s.base.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	if m := s.base.Query().Get("sslmode"); m != "" {
		env = append(env, "PGSSLMODE="+m)
	}
	return env
}

func readPgbenchLog(path string) ([]time.Duration, int, error) {
	f, err := os.Open(path) // #nosec G304 -- a file the benchmark writes or reads under its own output directory
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	lat, failed, err := parsePgbenchLog(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return lat, failed, nil
}

// pgbenchSummary is what pgbench's report says.
type pgbenchSummary struct {
	TPS       float64
	Processed int
	Failed    int
}

// parsePgbenchOutput reads pgbench's closing report. It takes the tps measured without
// connection setup ("without initial connection time", or before PostgreSQL 14 "excluding
// connections establishing") and falls back to the first tps line.
func parsePgbenchOutput(out string) (pgbenchSummary, error) {
	var s pgbenchSummary
	haveTPS, preciseTPS := false, false
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			key, val, ok = strings.Cut(line, "=")
		}
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "tps":
			precise := strings.Contains(val, "without initial connection") || strings.Contains(val, "excluding connections")
			if haveTPS && (preciseTPS || !precise) {
				continue
			}
			v, err := strconv.ParseFloat(firstField(val), 64)
			if err != nil {
				return s, fmt.Errorf("pgbench output: tps %q: %w", val, err)
			}
			s.TPS, haveTPS, preciseTPS = v, true, precise
		case "number of transactions actually processed":
			n, err := strconv.Atoi(strings.Split(firstField(val), "/")[0])
			if err != nil {
				return s, fmt.Errorf("pgbench output: processed %q: %w", val, err)
			}
			s.Processed = n
		case "number of failed transactions":
			n, err := strconv.Atoi(firstField(val))
			if err != nil {
				return s, fmt.Errorf("pgbench output: failed %q: %w", val, err)
			}
			s.Failed = n
		}
	}
	if !haveTPS {
		return s, fmt.Errorf("pgbench output has no tps line:\n%s", out)
	}
	return s, nil
}

// parsePgbenchLog reads a pgbench transaction log (-l). Each line is
// "client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]", time
// being the latency in microseconds, or "failed" or "skipped". It returns the latencies and how
// many transactions failed or were skipped. Latencies are kept as logged, including the 0µs
// pgbench writes for about 1% of transactions (its clock is refreshed lazily between clients
// of a thread).
func parsePgbenchLog(r io.Reader) ([]time.Duration, int, error) {
	var (
		lat    []time.Duration
		failed int
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 6 {
			return nil, 0, fmt.Errorf("line %d: %q: want at least 6 fields", n, sc.Text())
		}
		switch f[2] {
		case "failed", "skipped":
			failed++
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || us < 0 {
			return nil, 0, fmt.Errorf("line %d: latency %q is not a count of microseconds", n, f[2])
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	return lat, failed, nil
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// lastLines is the end of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
