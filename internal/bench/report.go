package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// machine is what the numbers were measured on.
type machine struct {
	CPUs     int
	CPUModel string // "" when unknown
	OS, Arch string
	MemBytes int64 // 0 when unknown
	Date     time.Time
}

func describeMachine(now time.Time) machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Date: now}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m.MemBytes, _ = parseMeminfo(f)
		f.Close()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPUModel = parseCPUModel(f)
		f.Close()
	}
	return m
}

func (m machine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(&b, ", %s/%s", m.OS, m.Arch)
	if m.MemBytes > 0 {
		fmt.Fprintf(&b, ", %.1f GiB RAM", float64(m.MemBytes)/(1<<30))
	}
	return b.String()
}

// parseMeminfo returns MemTotal from /proc/meminfo, in bytes.
func parseMeminfo(r io.Reader) (int64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// parseCPUModel returns the first "model name" in /proc/cpuinfo.
func parseCPUModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

var tableHeader = []string{"backend", "orders", "errors", "orders/s", "p50", "p95", "p99", "max"}

func row(r Result) []string {
	return []string{
		r.Backend, strconv.Itoa(r.Orders), strconv.Itoa(r.Errors), fmt.Sprintf("%.0f", r.PerSecond),
		ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max),
	}
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func setup(cfg OrdersConfig) string {
	return fmt.Sprintf("%d clients, %s measured after %s warmup", cfg.Concurrency, cfg.Duration, cfg.Warmup)
}

// writeTable prints the results as a text table: names left-aligned, numbers right-aligned.
func writeTable(w io.Writer, results []Result, m machine, cfg OrdersConfig) {
	rows := [][]string{tableHeader}
	for _, r := range results {
		rows = append(rows, row(r))
	}
	widths := make([]int, len(tableHeader))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		fmt.Fprintf(&b, "%-*s", widths[0], r[0])
		for i, c := range r[1:] {
			fmt.Fprintf(&b, "  %*s", widths[i+1], c)
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "%s; %s; %s\n", setup(cfg), m, m.Date.Format("2006-01-02 15:04 MST"))
}

// writeMarkdown prints the results as a block for docs/benchmarks.md.
func writeMarkdown(w io.Writer, results []Result, m machine, cfg OrdersConfig) {
	fmt.Fprintf(w, "Measured %s with `tiffin bench orders`: %s; %s.\n\n", m.Date.Format("2006-01-02"), setup(cfg), m)
	fmt.Fprintf(w, "| %s |\n", strings.Join(tableHeader, " | "))
	fmt.Fprint(w, "| --- |")
	for range tableHeader[1:] {
		fmt.Fprint(w, " ---: |")
	}
	fmt.Fprintln(w)
	for _, r := range results {
		cells := row(r)
		cells[0] = strings.ReplaceAll(cells[0], "|", `\|`)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}
