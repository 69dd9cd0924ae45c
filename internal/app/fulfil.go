package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/sony/gobreaker/v2"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// startFulfil builds the fulfil service on the job queue q, with its carrier: the fake one in
// this process (cfg.FakeCarrier, dev), or the carrier at cfg.CarrierURL. Without either it
// logs why and builds nothing: carrier orders then wait, accepted, until a process with a
// carrier runs (its sweep requests their shipments).
func (a *App) startFulfil(ctx context.Context, q *jobs.Queue) (bool, error) {
	cfg := a.cfg
	name := cfg.CarrierName
	if name == "" {
		name = "carrier"
	}
	url, key := cfg.CarrierURL, cfg.CarrierKey
	var secret standardwebhook.Secret
	if cfg.CarrierWebhookSecret != "" {
		var err error
		if secret, err = standardwebhook.ParseSecret(cfg.CarrierWebhookSecret); err != nil {
			return false, fmt.Errorf("app: carrier webhook secret: %w", err)
		}
	}
	if cfg.FakeCarrier {
		if a.ln == nil {
			return false, fmt.Errorf("app: the fake carrier sends webhooks to the API, which this process does not serve")
		}
		secret = standardwebhook.NewSecret()
		fc := cfg.FakeCarrierOptions
		fc.WebhookURL, fc.WebhookSecret = a.URL()+"/v1/carriers/"+name+"/webhooks", secret
		fc.PickupAfter, fc.DeliverAfter = cfg.FakeCarrierPickupAfter, cfg.FakeCarrierDeliverAfter
		fake := carrierfake.New(fc)
		addr, err := fake.ServeAPI(ctx, "127.0.0.1:0")
		if err != nil {
			return false, err
		}
		url, key = "http://"+addr, fake.Key()
		a.fakeCarrier = fake
		a.runners = append(a.runners, runner{"fake-carrier", func(ctx context.Context) error {
			fake.Run(ctx, time.Second)
			fake.Close()
			return nil
		}})
		a.logger.Info("fake carrier runs in this process; ops switch its mode at /v1/ops/fakes/carrier", "url", url)
	}
	if url == "" {
		a.logger.Warn("no carrier configured (--carrier-url): orders that ship by carrier wait, accepted, until a process with one runs")
		// Ops still see, retry and cancel the waiting shipments here.
		f := fulfil.New(a.db, a.bus, q, nil, fulfil.Config{CarrierName: name, Logger: a.logger, Metrics: a.metrics})
		f.Register(a.srv)
		a.addDeadLetters(shipmentDeadLetters{f: f})
		return false, nil
	}
	if len(secret) == 0 {
		a.logger.Warn("no carrier webhook secret (--carrier-webhook-secret): the carrier's webhooks are refused and shipment status comes from polls alone")
	}
	onChange := fulfil.BreakerChanged(a.logger, a.metrics)
	if hook := cfg.OnCarrierBreaker; hook != nil {
		log := onChange
		onChange = func(name string, from, to gobreaker.State) { log(name, from, to); hook(from, to) }
	}
	carrier := fulfil.NewHTTPCarrier(fulfil.HTTPCarrierConfig{
		Name: name, BaseURL: url, Key: key, OnBreakerChange: onChange,
		BreakerOpenFor: cfg.CarrierBreakerOpenFor, Client: cfg.CarrierClient,
	})
	f := fulfil.New(a.db, a.bus, q, carrier, fulfil.Config{
		CarrierName: name, WebhookSecret: secret, Logger: a.logger, Metrics: a.metrics, Lead: a.leases.Run,
		Retry: cfg.CarrierRetry, PollEvery: cfg.CarrierPollEvery, SweepEvery: cfg.CarrierSweepEvery,
	})
	f.Register(a.srv)
	a.addDeadLetters(shipmentDeadLetters{f: f})
	a.runners = append(a.runners, runner{"fulfil", f.Run})
	return true, nil
}

// fakeModeInput is the body of PUT /v1/ops/fakes/carrier.
type fakeModeInput struct {
	Body struct {
		Mode string `json:"mode" enum:"up,down,slow,flaky,garbage,timeout-after-booking,duplicate-webhooks,lose-bookings"`
	}
}

type fakeStatsOutput struct{ Body carrierfake.Stats }

// registerFakes adds the dev routes that drive the fakes running in this process:
// GET and PUT /v1/ops/fakes/carrier.
func (a *App) registerFakes() {
	if a.fakeCarrier == nil {
		return
	}
	fake := a.fakeCarrier
	ops := []auth.Role{auth.Ops}
	httpapi.Handle(a.srv, huma.Operation{
		OperationID: "get-fake-carrier", Method: http.MethodGet, Path: "/v1/ops/fakes/carrier", Tags: []string{"dev"},
		Summary: "read the fake carrier's mode and bookings (dev)",
	}, ops, func(context.Context, auth.Principal, *struct{}) (*fakeStatsOutput, error) {
		return &fakeStatsOutput{Body: fake.Stats()}, nil
	})
	httpapi.Handle(a.srv, huma.Operation{
		OperationID: "set-fake-carrier", Method: http.MethodPut, Path: "/v1/ops/fakes/carrier", Tags: []string{"dev"},
		Summary:     "switch the fake carrier's mode (dev)",
		Description: "Modes: " + strings.Join(modeNames(), ", ") + ". down closes its port (connections refused).",
	}, ops, func(ctx context.Context, p auth.Principal, in *fakeModeInput) (*fakeStatsOutput, error) {
		if err := fake.SetMode(carrierfake.Mode(in.Body.Mode)); err != nil {
			return nil, err
		}
		if err := a.db.InTx(ctx, func(tx *store.Tx) error {
			return audit.Record(ctx, tx, string(p.Role)+":"+p.Subject, "fake_carrier.mode", "fake:carrier", map[string]string{"mode": in.Body.Mode}, time.Now())
		}); err != nil {
			return nil, err
		}
		a.logger.Info("fake carrier mode switched", "mode", in.Body.Mode)
		return &fakeStatsOutput{Body: fake.Stats()}, nil
	})
}

func modeNames() []string {
	out := make([]string, len(carrierfake.Modes))
	for i, m := range carrierfake.Modes {
		out[i] = string(m)
	}
	return out
}
