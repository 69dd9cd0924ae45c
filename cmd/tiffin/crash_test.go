package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// TestKillNineLosesNothing runs `tiffin dev` with the simulator, places orders of its own
// while the city runs, kills the process with SIGKILL, restarts it on the same data directory
// and checks that every order that got a 201 is still there and that none stays stuck: each
// reaches an end state (the reconciler and the restarted simulator move them on).
//
// It builds the binary and takes about a minute, so it runs when TIFFIN_SLOW=1 (CI sets it).
func TestKillNineLosesNothing(t *testing.T) {
	if os.Getenv("TIFFIN_SLOW") != "1" {
		t.Skip("slow: set TIFFIN_SLOW=1 to run the kill -9 test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tiffin")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	base := "http://" + addr
	start := func(name string) *exec.Cmd {
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { log.Close() })
		cmd := exec.Command(bin, "dev", "--addr", addr, "--data", data, "--sim=true",
			"--speed", "60", "--orders-per-min", "120", "--restaurant-timeout", "20s", "--offer-ttl", "5s", "--log-format", "json",
			"--no-rate-limit") // one customer places 8 orders a second: load, not abuse
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start tiffin: %v", err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitReady(t, base)
		return cmd
	}

	first := start("first")
	keys, err := auth.LoadOrCreate(data)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := keys.Issue(auth.Principal{Subject: "ops-test", Role: auth.Ops}, time.Hour)
	customer, _ := keys.Issue(auth.Principal{Subject: "crash-customer", Role: auth.Customer}, time.Hour)

	item := firstItem(t, base, "sim-r-01")
	var mu sync.Mutex
	var acked []string
	ctx, stopPlacing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"restaurant_id":"sim-r-01","items":[{"menu_item_id":%q,"quantity":1}],"delivery":{"lat":12.975,"lng":77.6}}`, item)
				req, _ := http.NewRequest("POST", base+"/v1/orders", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+customer)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("crash-%d-%d", w, i))
				resp, err := client.Do(req)
				if err != nil {
					continue // the server is being killed
				}
				var o struct{ ID string }
				json.NewDecoder(resp.Body).Decode(&o)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, o.ID)
					mu.Unlock()
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	time.Sleep(8 * time.Second)
	if err := first.Process.Kill(); err != nil { // SIGKILL, mid-flight
		t.Fatal(err)
	}
	first.Wait()
	stopPlacing()
	wg.Wait()
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 20 {
		t.Fatalf("only %d orders acknowledged before the kill; the test needs load", len(ids))
	}
	t.Logf("%d orders acknowledged before kill -9", len(ids))

	start("second")
	for _, id := range ids {
		if status := orderStatus(t, base, ops, id); status == "" {
			t.Errorf("order %s got a 201 before the crash and is gone after it", id)
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	pending := ids
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []string
		for _, id := range pending {
			switch orderStatus(t, base, ops, id) {
			case "delivered", "cancelled", "rejected", "failed":
			default:
				still = append(still, id)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	for _, id := range pending {
		t.Errorf("order %s is stuck in %s after the restart", id, orderStatus(t, base, ops, id))
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", base)
}

func firstItem(t *testing.T, base, restaurant string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/v1/restaurants/" + restaurant + "/menu")
		if err == nil {
			var m struct {
				Items []struct {
					ID        string `json:"id"`
					Available bool   `json:"available"`
					Stock     *int   `json:"stock"`
				} `json:"items"`
			}
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			for _, it := range m.Items {
				if it.Available && it.Stock == nil {
					return it.ID
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the simulator never seeded %s with an unlimited item", restaurant)
	return ""
}

func orderStatus(t *testing.T, base, token, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/orders/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	var o struct{ Status string }
	if err := json.Unmarshal(b, &o); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, resp.StatusCode, b)
	}
	return o.Status
}
