package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
)

type fakeCmd struct {
	Carrier     fakeCarrierCmd     `cmd:"" help:"Run the fake parcel carrier: books, tracks and cancels shipments, sends signed status webhooks, and fails on demand (see carrier-mode)."`
	CarrierMode fakeCarrierModeCmd `cmd:"" name:"carrier-mode" help:"Show or switch a running fake carrier's mode: up, down, slow, flaky, garbage, timeout-after-booking, duplicate-webhooks, lose-bookings."`
}

type fakeCarrierCmd struct {
	Addr          string        `default:"127.0.0.1:8090" help:"API listen address (HOST:PORT); closed while the mode is down, so connections are refused."`
	ControlAddr   string        `default:"127.0.0.1:8091" help:"Control listen address (GET/PUT /_fake), open in every mode."`
	Mode          string        `default:"up" help:"Mode to start in."`
	Key           string        `default:"ck_test_carrierfake" help:"API key clients must present as a bearer token."`
	WebhookURL    string        `help:"Where status webhooks are POSTed (none when empty)."`
	WebhookSecret string        `help:"Standard Webhooks signing secret (whsec_...); a new one is printed when empty."`
	PickupAfter   time.Duration `default:"2m" help:"How long after booking a parcel is picked up."`
	DeliverAfter  time.Duration `default:"10m" help:"How long after pickup a parcel is delivered."`
}

func (c *fakeCarrierCmd) Run(ctx context.Context, out io.Writer) error {
	secret := standardwebhook.NewSecret()
	if c.WebhookSecret != "" {
		var err error
		if secret, err = standardwebhook.ParseSecret(c.WebhookSecret); err != nil {
			return err
		}
	}
	fake := carrierfake.New(carrierfake.Config{
		Key: c.Key, WebhookURL: c.WebhookURL, WebhookSecret: secret, PickupAfter: c.PickupAfter, DeliverAfter: c.DeliverAfter,
	})
	defer fake.Close()
	if err := fake.SetMode(carrierfake.Mode(c.Mode)); err != nil {
		return err
	}
	control, err := net.Listen("tcp", c.ControlAddr)
	if err != nil {
		return fmt.Errorf("fake carrier: control: %w", err)
	}
	ctl := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go ctl.Serve(control)
	defer ctl.Close()
	go fake.Run(ctx, time.Second)
	fmt.Fprintf(out, "fake carrier: API on http://%s (key %s), control on http://%s/_fake, mode %s, webhooks to %q signed with %s\n",
		c.Addr, c.Key, control.Addr(), fake.Mode(), c.WebhookURL, secret)
	// The API listens except while down: then the port is closed and connections are
	// refused, as a carrier's API is when it is down.
	if _, err := fake.ServeAPI(ctx, c.Addr); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

type fakeCarrierModeCmd struct {
	Mode string `arg:"" optional:"" help:"The mode to switch to (none: show the current one)."`
	URL  string `default:"http://127.0.0.1:8091" help:"The fake carrier's control address."`
}

func (c *fakeCarrierModeCmd) Run(ctx context.Context, out io.Writer) error {
	method, body := http.MethodGet, ""
	if c.Mode != "" {
		b, _ := json.Marshal(map[string]string{"mode": c.Mode})
		method, body = http.MethodPut, string(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+"/_fake", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("fake carrier control: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return errors.New("fake carrier control: " + resp.Status + ": " + strings.TrimSpace(string(answer)))
	}
	_, err = out.Write(answer)
	return err
}
