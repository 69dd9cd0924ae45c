package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMeminfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   int64
		wantOK bool
	}{
		{"linux", "MemTotal:       32768000 kB\nMemFree:         1024 kB\n", 32768000 * 1024, true},
		{"not first", "MemFree: 1 kB\nMemTotal: 2048 kB\n", 2048 * 1024, true},
		{"missing", "MemFree: 1 kB\n", 0, false},
		{"garbled", "MemTotal: lots kB\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseMeminfo(strings.NewReader(tt.in))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %d %v, want %d %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseCPUModel(t *testing.T) {
	t.Parallel()
	in := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz\n"
	if got, want := parseCPUModel(strings.NewReader(in)), "Intel(R) Xeon(R) CPU @ 2.20GHz"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBackendNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"sqlite", "postgres://u@h:5432/db"},
			[]string{"sqlite", "postgres"}},
		{[]string{"postgres://u@a:5432/db", "postgresql://u:pw@b:5433/x?sslmode=disable"},
			[]string{"postgres a:5432/db", "postgres b:5433/x"}},
		{[]string{"sqlite", "sqlite"},
			[]string{"sqlite", "sqlite #2"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, backendNames(tt.in)); diff != "" {
			t.Errorf("backendNames(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTables(t *testing.T) {
	t.Parallel()
	results := []Result{
		{Backend: "tiffin POST /v1/orders (sqlite)", Orders: 12000, Errors: 0, PerSecond: 600.4,
			P50: 20 * time.Millisecond, P95: 41500 * time.Microsecond, P99: 60 * time.Millisecond, Max: 123 * time.Millisecond},
		{Backend: "pgbench single-row insert (postgres)", Orders: 140000, Errors: 1, PerSecond: 7000,
			P50: 450 * time.Microsecond, P95: time.Millisecond, P99: 2 * time.Millisecond, Max: 9 * time.Millisecond},
	}
	m := machine{CPUs: 8, CPUModel: "Test CPU", OS: "linux", Arch: "amd64", MemBytes: 16 << 30,
		Date: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := OrdersConfig{Concurrency: 16, Duration: 20 * time.Second, Warmup: 2 * time.Second}

	var text strings.Builder
	writeTable(&text, results, m, cfg)
	lines := strings.Split(strings.TrimRight(text.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("text table: got %d lines, want header, 2 rows and the machine:\n%s", len(lines), text.String())
	}
	for i, want := range []string{"backend", "tiffin POST /v1/orders (sqlite)", "pgbench single-row insert (postgres)"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d: got %q, want it to start with %q", i, lines[i], want)
		}
	}
	if len(lines[0]) != len(lines[1]) || len(lines[1]) != len(lines[2]) {
		t.Errorf("rows not aligned:\n%s", text.String())
	}
	for _, want := range []string{"600", "41.50 ms", "0.45 ms", "16 clients, 20s measured after 2s warmup",
		"8 CPUs (Test CPU), linux/amd64, 16.0 GiB RAM; 2026-03-01 12:00 UTC"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, text.String())
		}
	}

	var md strings.Builder
	writeMarkdown(&md, results, m, cfg)
	want := "Measured 2026-03-01 with `tiffin bench orders`: 16 clients, 20s measured after 2s warmup; " +
		"8 CPUs (Test CPU), linux/amd64, 16.0 GiB RAM.\n\n" +
		"| backend | orders | errors | orders/s | p50 | p95 | p99 | max |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
		"| tiffin POST /v1/orders (sqlite) | 12000 | 0 | 600 | 20.00 ms | 41.50 ms | 60.00 ms | 123.00 ms |\n" +
		"| pgbench single-row insert (postgres) | 140000 | 1 | 7000 | 0.45 ms | 1.00 ms | 2.00 ms | 9.00 ms |\n"
	if diff := cmp.Diff(want, md.String()); diff != "" {
		t.Errorf("markdown (-want +got):\n%s", diff)
	}
}
