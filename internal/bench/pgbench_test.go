package bench

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Reports as pgbench prints them.
const (
	pgbench15Output = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/tiffin-pgbench-1/script.sql
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 14530
number of failed transactions: 0 (0.000%)
latency average = 0.549 ms
initial connection time = 14.281 ms
tps = 7288.275107 (without initial connection time)
`
	pgbench16FailuresOutput = `pgbench (16.4)
transaction type: script.sql
scaling factor: 1
query mode: simple
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 51234
number of failed transactions: 12 (0.023%)
latency average = 3.120 ms
initial connection time = 30.002 ms
tps = 5123.400000 (without initial connection time)
`
	pgbench13Output = `starting vacuum...end.
transaction type: script.sql
scaling factor: 1
query mode: simple
number of clients: 8
number of threads: 2
duration: 5 s
number of transactions actually processed: 20000/20000
latency average = 1.999 ms
tps = 4001.234567 (including connections establishing)
tps = 4010.765432 (excluding connections establishing)
`
)

func TestParsePgbenchOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     string
		want    pgbenchSummary
		wantErr string
	}{
		{"postgres 15", pgbench15Output, pgbenchSummary{TPS: 7288.275107, Processed: 14530}, ""},
		{"postgres 16 with failures", pgbench16FailuresOutput, pgbenchSummary{TPS: 5123.4, Processed: 51234, Failed: 12}, ""},
		{"postgres 13 takes the tps excluding connections", pgbench13Output, pgbenchSummary{TPS: 4010.765432, Processed: 20000}, ""},
		{"a lone plain tps line", "tps = 12.5\n", pgbenchSummary{TPS: 12.5}, ""},
		{"no tps", "pgbench: error: connection to server failed\n", pgbenchSummary{}, "no tps line"},
		{"garbled tps", "tps = fast (without initial connection time)\n", pgbenchSummary{}, "tps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePgbenchOutput(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePgbenchOutput: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePgbenchLog(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	tests := []struct {
		name       string
		log        string
		want       []time.Duration
		wantFailed int
		wantErr    string
	}{
		{
			name: "postgres 15 thread log",
			log: "0 1 1781 0 1795241402 454450\n" +
				"1 1 1849 0 1795241402 454526\n" +
				"0 2 479 0 1795241402 454941\n",
			want: []time.Duration{1781 * us, 1849 * us, 479 * us},
		},
		{
			name: "with schedule lag and retries columns",
			log:  "3 10 2034 0 1795241402 455014 12 0\n2 11 375 0 1795241402 455020 3 1\n",
			want: []time.Duration{2034 * us, 375 * us},
		},
		{
			name:       "failed and skipped transactions",
			log:        "0 1 512 0 1795241402 1\n0 2 failed 0 1795241402 2\n1 1 skipped 0 1795241402 3 900\n",
			want:       []time.Duration{512 * us},
			wantFailed: 2,
		},
		{name: "blank lines are ignored", log: "\n0 1 7 0 1795241402 1\n\n", want: []time.Duration{7 * us}},
		{name: "empty", log: ""},
		{name: "too few fields", log: "0 1 7 0\n", wantErr: "line 1"},
		{name: "not a latency", log: "0 1 7 0 1795241402 1\n0 2 1.5 0 1795241402 2\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, failed, err := parsePgbenchLog(strings.NewReader(tt.log))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePgbenchLog: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("latencies (-want +got):\n%s", diff)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed: got %d, want %d", failed, tt.wantFailed)
			}
		})
	}
}

func TestPgbenchConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		wantArgs []string
		wantEnv  []string
	}{
		{
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			[]string{"-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "test"},
			[]string{"PGOPTIONS=-c search_path=bench_1", "PGSSLMODE=disable"},
		},
		{
			"postgresql://app:s3cret@db.internal/tiffin",
			[]string{"-h", "db.internal", "-U", "app", "tiffin"},
			[]string{"PGOPTIONS=-c search_path=bench_1", "PGPASSWORD=s3cret"},
		},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		s := &schema{name: "bench_1", base: u}
		if diff := cmp.Diff(tt.wantArgs, connArgs(s)); diff != "" {
			t.Errorf("connArgs(%s) (-want +got):\n%s", tt.url, diff)
		}
		if diff := cmp.Diff(tt.wantEnv, pgEnv(s)); diff != "" {
			t.Errorf("pgEnv(%s) (-want +got):\n%s", tt.url, diff)
		}
	}
}

func TestPgbenchDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want time.Duration }{
		{time.Second, time.Second}, {1500 * time.Millisecond, 2 * time.Second}, {200 * time.Millisecond, time.Second},
	} {
		if got := pgbenchDuration(tt.in); got != tt.want {
			t.Errorf("pgbenchDuration(%v): got %v, want %v", tt.in, got, tt.want)
		}
	}
}
