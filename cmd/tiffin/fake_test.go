package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// `tiffin fake carrier` serves its API, and `tiffin fake carrier-mode down` closes the API
// port (connections refused) until the mode changes back; the control port stays open.
func TestFakeCarrierCommand(t *testing.T) {
	api, control := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		done <- (&fakeCarrierCmd{Addr: api, ControlAddr: control, Mode: "up", Key: "k", PickupAfter: time.Minute, DeliverAfter: time.Minute}).Run(ctx, &out)
	}()
	book := func() (int, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+api+"/v1/bookings", strings.NewReader(`{"reference": "shp_1"}`))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s: not within 5s", what)
	}
	eventually("the API answers", func() bool { code, err := book(); return err == nil && code == http.StatusCreated })

	mode := func(m string) string {
		t.Helper()
		var out bytes.Buffer
		if err := (&fakeCarrierModeCmd{Mode: m, URL: "http://" + control}).Run(ctx, &out); err != nil {
			t.Fatalf("carrier-mode %s: %v", m, err)
		}
		return out.String()
	}
	if got := mode("down"); !strings.Contains(got, `"mode":"down"`) || !strings.Contains(got, `"bookings":1`) {
		t.Errorf("carrier-mode down answered %s", got)
	}
	eventually("connections refused while down", func() bool {
		_, err := book()
		return err != nil && strings.Contains(err.Error(), "refused")
	})
	mode("up")
	eventually("the API answers again", func() bool { code, err := book(); return err == nil && code == http.StatusCreated })
	if got := mode(""); !strings.Contains(got, `"duplicate_bookings":1`) {
		t.Errorf("two bookings of one reference under no key: %s", got)
	}
	var out bytes.Buffer
	if err := (&fakeCarrierModeCmd{Mode: "sideways", URL: "http://" + control}).Run(ctx, &out); err == nil {
		t.Error("an unknown mode was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
