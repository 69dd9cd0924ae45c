package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestBenchDispatchFlags(t *testing.T) {
	c, cmd := parse(t, "bench", "dispatch", "--orders", "1000,3000", "--orders", "50", "--couriers", "500,3000,40", "--rounds", "3", "--hold", "60")
	if cmd != "bench dispatch" {
		t.Fatalf("command %q, want bench dispatch", cmd)
	}
	b := c.Bench.Dispatch
	if !slices.Equal(b.Orders, []int{1000, 3000, 50}) || !slices.Equal(b.Couriers, []int{500, 3000, 40}) || b.Rounds != 3 || b.Hold != 60 || b.Candidates != 64 {
		t.Errorf("got %+v, want orders 1000,3000,50, couriers 500,3000,40, 3 rounds, hold 60, 64 candidates", b)
	}
}

func TestBenchDispatchRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cmd     benchDispatchCmd
		wantErr string
		want    []string
	}{
		{"a small city", benchDispatchCmd{Orders: []int{60}, Couriers: []int{40}, Rounds: 2, Candidates: 8, DenseMax: 1 << 20},
			"", []string{"60 x 40", "optimal, k=8", "dense"}},
		{"couriers without orders", benchDispatchCmd{Couriers: []int{10}, Rounds: 1}, "1 --couriers for 0 --orders", nil},
		{"no couriers", benchDispatchCmd{Orders: []int{10}, Couriers: []int{0}, Rounds: 1}, "want positive sizes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := tt.cmd.Run(context.Background(), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
