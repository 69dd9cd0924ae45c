// Package telemetry builds tiffin's logger and its Prometheus metrics. Metrics live on one
// registry owned by the app (no global default registry), served at /metrics.
package telemetry

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewLogger returns a JSON logger, or a text logger when format is "text" or when format is
// "auto" and w is a terminal.
func NewLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	text := format == "text"
	if format == "auto" || format == "" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			text = true
		}
	}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Metrics are the instruments every service records into.
type Metrics struct {
	Registry *prometheus.Registry

	// HTTPRequests counts requests by route pattern, method and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency by route pattern and method.
	HTTPDuration *prometheus.HistogramVec
	// Orders counts transitions into each order status.
	Orders *prometheus.CounterVec
	// ClickToDoor observes the time from placement to delivery.
	ClickToDoor prometheus.Histogram
	// Offers counts dispatch offers by outcome (offered, accepted, declined, expired).
	Offers *prometheus.CounterVec
	// DispatchRound observes how long a dispatch planning round takes (reads, plan, offers),
	// by algorithm.
	DispatchRound *prometheus.HistogramVec
	// OrdersWaiting is, per region, how many orders the last planning round found waiting for
	// a courier (not yet offered or on offer).
	OrdersWaiting *prometheus.GaugeVec
	// PickupLateness observes actual minus planned pickup time of each delivery, in seconds
	// (negative: early).
	PickupLateness prometheus.Histogram
	// Consumed counts bus events handled, by consumer and result.
	Consumed *prometheus.CounterVec
	// Reconciled counts rows a reconciler moved on, by what it did.
	Reconciled *prometheus.CounterVec
	// LocationFixes counts courier GPS fixes ingested.
	LocationFixes prometheus.Counter
	// PaymentCalls counts payment provider calls by operation and result (ok, declined,
	// unknown, refused, never_made).
	PaymentCalls *prometheus.CounterVec
	// StaleReads counts reads answered from the last kept copy because the store could not
	// be reached, by what was read (menu, restaurant, restaurants, order).
	StaleReads *prometheus.CounterVec
	// CarrierCalls counts calls to outside carriers by carrier, operation (book, lookup,
	// status, cancel) and result (ok, unavailable, breaker_open, rejected, not_found, too_late).
	CarrierCalls *prometheus.CounterVec
	// CarrierBreaker is each carrier's circuit breaker: 0 closed, 1 half-open, 2 open.
	CarrierBreaker *prometheus.GaugeVec
	// Shipments is the number of shipments in each state, as last counted.
	Shipments *prometheus.GaugeVec
	// ShipmentOldestPending is how long the longest-waiting shipment not in an end state has
	// been where it is, in seconds, as last counted.
	ShipmentOldestPending prometheus.Gauge
	// Notifications counts notification deliveries by channel (in_app, email, webhook) and
	// result (sent, failed: to be retried, dead: given up).
	Notifications *prometheus.CounterVec
	// WebhookEndpointsDisabled counts webhook endpoints disabled after sustained failure.
	WebhookEndpointsDisabled prometheus.Counter
}

// NewMetrics registers the instruments on a fresh registry, with Go and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tiffin_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "method"}),
		Orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_orders_total", Help: "Order transitions into each status.",
		}, []string{"status"}),
		ClickToDoor: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tiffin_click_to_door_seconds", Help: "Time from order placement to delivery.",
			Buckets: prometheus.ExponentialBuckets(60, 1.5, 12),
		}),
		Offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_dispatch_offers_total", Help: "Dispatch offers by outcome.",
		}, []string{"outcome"}),
		DispatchRound: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tiffin_dispatch_round_seconds", Help: "Dispatch planning round time (reads, plan, offers) by algorithm.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"algorithm"}),
		OrdersWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tiffin_dispatch_orders_waiting", Help: "Orders waiting for a courier in each region, as the last planning round found them.",
		}, []string{"region"}),
		PickupLateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tiffin_dispatch_pickup_lateness_seconds", Help: "Actual minus planned pickup time per delivery (negative: early).",
			Buckets: []float64{-600, -300, -120, -60, -30, 0, 30, 60, 120, 300, 600, 1200},
		}),
		Consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_events_consumed_total", Help: "Bus events handled by consumer and result.",
		}, []string{"consumer", "result"}),
		Reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_reconciled_total", Help: "Rows moved on by a reconciler, by action.",
		}, []string{"action"}),
		LocationFixes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tiffin_location_fixes_total", Help: "Courier GPS fixes ingested.",
		}),
		PaymentCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_payment_calls_total", Help: "Payment provider calls by operation and result.",
		}, []string{"op", "result"}),
		StaleReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_stale_reads_total", Help: "Reads answered from the last kept copy because the store could not be reached.",
		}, []string{"what"}),
		CarrierCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_carrier_calls_total", Help: "Calls to outside carriers by carrier, operation and result.",
		}, []string{"carrier", "op", "result"}),
		CarrierBreaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tiffin_carrier_breaker_state", Help: "A carrier's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"carrier"}),
		Shipments: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tiffin_shipments", Help: "Shipments in each state.",
		}, []string{"state"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiffin_notifications_total", Help: "Notification deliveries by channel and result (sent, failed, dead).",
		}, []string{"channel", "result"}),
		WebhookEndpointsDisabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tiffin_webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled after failing for too long.",
		}),
		ShipmentOldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tiffin_shipment_oldest_pending_seconds", Help: "How long the longest-waiting shipment not in an end state has been in its state.",
		}),
	}
	reg.MustRegister(m.HTTPRequests, m.HTTPDuration, m.Orders, m.ClickToDoor, m.Offers, m.DispatchRound, m.OrdersWaiting, m.PickupLateness, m.Consumed,
		m.Reconciled, m.LocationFixes, m.PaymentCalls, m.StaleReads, m.CarrierCalls, m.CarrierBreaker,
		m.Shipments, m.ShipmentOldestPending, m.Notifications, m.WebhookEndpointsDisabled)
	return m
}

// GaugeFunc registers a gauge whose value is computed at scrape time, e.g. the outbox age.
// Labels, if given, are fixed: one gauge of a name per set of label values, e.g.
// tiffin_dead_letters{source="bus"} beside another source's.
func (m *Metrics) GaugeFunc(name, help string, f func() float64, labels ...prometheus.Labels) {
	opts := prometheus.GaugeOpts{Name: name, Help: help}
	if len(labels) > 0 {
		opts.ConstLabels = labels[0]
	}
	m.Registry.MustRegister(prometheus.NewGaugeFunc(opts, f))
}

// Since is a small helper for observing durations in seconds.
func Since(t time.Time) float64 { return time.Since(t).Seconds() }
