package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
	"github.com/tiffin-dev/tiffin/internal/sim"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

type logFlags struct {
	Format string `default:"auto" enum:"auto,json,text" help:"Log format: json, text, or auto (text on a terminal)."`
	Level  string `default:"info" enum:"debug,info,warn,error" help:"Log level."`
}

func (l logFlags) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(l.Level))
	return telemetry.NewLogger(os.Stderr, l.Format, lvl)
}

// common are the flags dev and serve share.
type common struct {
	Addr                string        `default:"127.0.0.1:8080" help:"HTTP listen address (HOST:PORT)."`
	MetricsAddr         string        `help:"Serve /metrics on this address (HOST:PORT) only, to anyone who reaches it: keep it on the operators' network. Without it, /metrics is on --addr for ops tokens only."`
	ReadTimeout         time.Duration `default:"30s" help:"How long a client may take to send a whole request, headers and body; it is cut off then."`
	MaxConns            int           `default:"4096" help:"Most connections the HTTP edge keeps open; past it, new ones wait to be accepted. Keep it under the file descriptor limit (ulimit -n)."`
	MaxConnsPerAddr     int           `default:"256" help:"Most connections one client address keeps open at the edge (past it, a new one is closed at once); --trusted-proxies are not capped; -1 or --no-rate-limit: no cap."`
	Data                string        `default:"data" help:"Data directory: SQLite database, embedded NATS store, dev signing key."`
	H3Resolution        int           `name:"h3-resolution" env:"TIFFIN_H3_RESOLUTION" default:"5" help:"H3 resolution of regions."`
	PayDeclineRate      float64       `default:"0" help:"Share of authorizations the fake payment provider declines (0..1)."`
	PayFailureRate      float64       `default:"0" help:"Share of fake payment provider calls that fail with an unknown outcome, half before and half after acting (0..1)."`
	PayLatency          time.Duration `default:"0s" help:"Delay of every fake payment provider call."`
	RestaurantTimeout   time.Duration `default:"5m" help:"Cancel and refund paid orders no restaurant accepted within this time."`
	CaptureAt           string        `default:"delivery" enum:"delivery,acceptance" help:"When an authorized payment is captured: delivery, or acceptance by the restaurant (an order cancelled after that is refunded)."`
	PaymentConcurrency  int           `default:"0" help:"Payments settled at once per process, at least peak orders/s times the provider's latency (Stripe: ~0.3-1 s a call, 10 s when it hangs). 0: 256 on PostgreSQL, 64 on SQLite (its one writer serves everyone)."`
	MaxOrderValue       int64         `default:"10000000" help:"Largest order total accepted, delivery included, in minor units."`
	OfferTTL            time.Duration `default:"30s" help:"How long a courier has to answer an offer."`
	Dispatch            string        `default:"optimal" enum:"optimal,greedy" help:"Dispatch planner: optimal (batched matching with bundles, prep-time aware) or greedy (each order at once to the nearest free courier, the baseline)."`
	DispatchRound       time.Duration `default:"5s" help:"How often each region's dispatch planner runs (it also runs when orders or couriers change)."`
	MaxBundle           int           `default:"2" help:"Most orders of one restaurant one courier carries at once, 1 to 4 (1: no bundles)."`
	StripeKey           string        `help:"Stripe secret key, for --pay-provider stripe (better given as TIFFIN_STRIPE_KEY than on the command line)."`
	StripeURL           string        `default:"https://api.stripe.com" help:"Stripe API base URL."`
	StripePaymentMethod string        `default:"pm_card_visa" help:"Payment method Stripe authorizations are confirmed with (a test card: checkout collects no card yet)."`
	ShutdownGrace       time.Duration `default:"10s" help:"On shutdown, how long requests in flight may run before they are cut off."`
	Redis               string        `help:"Redis URL (redis://host:6379/0) keeping the last copies of menus, restaurant lists and orders read, shared by replicas, to answer from while the database is unreachable (default: in-process memory)."`
	RedisPrefix         string        `default:"tiffin:" help:"Prefix of every Redis key tiffin writes."`
	AccessTokenTTL      time.Duration `default:"15m" help:"Lifetime of the access tokens local accounts log in for."`
	RefreshTokenTTL     time.Duration `default:"720h" help:"Lifetime of local accounts' refresh tokens (each refresh starts it again)."`
	rateLimitFlags
}

// rateLimitFlags are the edge's rate limits and stream caps (httpapi.Limits).
type rateLimitFlags struct {
	RateLimit              bool           `default:"true" negatable:"" help:"Rate limits and event stream caps at the edge; --no-rate-limit turns them all off (benchmarks meant to saturate the server)."`
	RateLimitIP            ratelimit.Rate `name:"rate-limit-ip" default:"${rate_limit_ip}" help:"Requests per client address, as N/UNIT:BURST (UNIT s, m or h), or off. With --redis, counted across replicas."`
	RateLimitAnonymous     ratelimit.Rate `default:"${rate_limit_anonymous}" help:"Requests without a token per client address (N/UNIT:BURST or off)."`
	RateLimitPrincipal     ratelimit.Rate `default:"${rate_limit_principal}" help:"Requests per principal, i.e. a token's role and subject (N/UNIT:BURST or off)."`
	RateLimitOrders        ratelimit.Rate `default:"${rate_limit_orders}" help:"Orders placed (POST /v1/orders) per principal (N/UNIT:BURST or off)."`
	RateLimitBadTokens     ratelimit.Rate `default:"${rate_limit_bad_tokens}" help:"Requests refused 401 for their token per client address; past it, requests with a token get 429 before it is verified (N/UNIT:BURST or off)."`
	MaxStreamsPerPrincipal int            `default:"${max_streams_per_principal}" help:"Event streams one principal may have open at once (per process)."`
	MaxStreamsPerOrder     int            `default:"${max_streams_per_order}" help:"Event streams open at once on one order (per process)."`
	TrustedProxies         []netip.Prefix `help:"Addresses (CIDR, e.g. 10.0.0.0/8,::1/128) of proxies whose X-Forwarded-For names the client; without them clients are counted by the socket's address."`
}

// limits are the flags as the edge's Limits.
func (f rateLimitFlags) limits() httpapi.Limits {
	return httpapi.Limits{
		Off: !f.RateLimit, IP: f.RateLimitIP, Anonymous: f.RateLimitAnonymous, Principal: f.RateLimitPrincipal,
		Orders: f.RateLimitOrders, BadTokens: f.RateLimitBadTokens, StreamsPerPrincipal: f.MaxStreamsPerPrincipal,
		StreamsPerObject: f.MaxStreamsPerOrder, TrustedProxies: f.TrustedProxies,
	}
}

// rateLimitVars are the rate limit flags' defaults, httpapi's.
func rateLimitVars() kong.Vars {
	return kong.Vars{
		"rate_limit_ip": httpapi.DefaultIPRate.String(), "rate_limit_anonymous": httpapi.DefaultAnonymousRate.String(),
		"rate_limit_principal": httpapi.DefaultPrincipalRate.String(), "rate_limit_orders": httpapi.DefaultOrdersRate.String(),
		"rate_limit_bad_tokens":     httpapi.DefaultBadTokensRate.String(),
		"max_streams_per_principal": fmt.Sprint(httpapi.DefaultStreamsPerPrincipal),
		"max_streams_per_order":     fmt.Sprint(httpapi.DefaultStreamsPerObject),
	}
}

func (c common) config(log logFlags) app.Config {
	return app.Config{
		Addr: c.Addr, MetricsAddr: c.MetricsAddr, ReadTimeout: c.ReadTimeout, MaxConns: c.MaxConns, MaxConnsPerAddr: c.MaxConnsPerAddr, DataDir: c.Data, H3Resolution: c.H3Resolution, Version: version,
		PayDeclineRate: c.PayDeclineRate, PayFailureRate: c.PayFailureRate, PayLatency: c.PayLatency,
		RestaurantTimeout: c.RestaurantTimeout, CaptureAt: c.CaptureAt, PaymentConcurrency: c.PaymentConcurrency, MaxOrderValue: c.MaxOrderValue, OfferTTL: c.OfferTTL,
		Dispatch: c.Dispatch, DispatchRound: c.DispatchRound, MaxBundle: c.MaxBundle,
		ShutdownGrace: c.ShutdownGrace, Logger: log.logger(), Redis: c.Redis, RedisPrefix: c.RedisPrefix, RateLimits: c.limits(),
		StripeKey: c.StripeKey, StripeURL: c.StripeURL, StripePaymentMethod: c.StripePaymentMethod,
		Accounts: account.Config{AccessTTL: c.AccessTokenTTL, RefreshTTL: c.RefreshTokenTTL},
	}
}

// checkDispatch refuses dispatch settings outside what works: a round or an offer's time to
// live too short to be meant (or zero, which would silently mean the default), and bundles
// larger than the planner sequences (it tries every drop-off order).
func (c common) checkDispatch(cmd string) error {
	switch {
	case c.DispatchRound < 100*time.Millisecond || c.DispatchRound > time.Hour:
		return fmt.Errorf("%s: --dispatch-round %v: want 100ms to 1h", cmd, c.DispatchRound)
	case c.OfferTTL < time.Second || c.OfferTTL > time.Hour:
		return fmt.Errorf("%s: --offer-ttl %v: want 1s to 1h", cmd, c.OfferTTL)
	case c.MaxBundle < 1 || c.MaxBundle > plan.MaxBundleLimit:
		return fmt.Errorf("%s: --max-bundle %d: want 1 to %d", cmd, c.MaxBundle, plan.MaxBundleLimit)
	}
	return nil
}

// checkPayments refuses a payment provider that cannot work as configured.
func (c common) checkPayments(cmd, provider string) error {
	if provider == "stripe" && strings.TrimSpace(c.StripeKey) == "" {
		return fmt.Errorf("%s: --pay-provider stripe needs a secret key: pass --stripe-key or set TIFFIN_STRIPE_KEY", cmd)
	}
	return nil
}

type devCmd struct {
	common
	DB             string  `help:"Database: a postgres:// URL or a SQLite path (default DATA/tiffin.db)."`
	NATS           string  `name:"nats" help:"External NATS URL (default: embedded server in DATA/nats)."`
	Sim            bool    `default:"true" negatable:"" help:"Run the city simulator."`
	Speed          float64 `default:"20" help:"Simulator clock multiplier: prep and travel happen this many times faster."`
	OrdersPerMin   float64 `default:"30" help:"Simulated customers' orders per (real) minute."`
	SimRestaurants int     `default:"20" help:"Simulated restaurants."`
	SimCouriers    int     `default:"50" help:"Simulated couriers."`
	PayProvider    string  `default:"fake" enum:"fake,stripe" help:"Payment provider: fake (a sandbox account kept in tiffin's database, moves no money) or stripe (needs --stripe-key)."`
	mailFlags
	FakeCarrier bool `default:"true" negatable:"" help:"Run the fake parcel carrier in this process for carrier orders (its mode: GET/PUT /v1/ops/fakes/carrier); --no-fake-carrier with --carrier-url uses a real one."`
	carrierFlags
	CarrierPickupAfter  time.Duration `default:"2m" help:"The fake carrier's pickup, this long after booking."`
	CarrierDeliverAfter time.Duration `default:"10m" help:"The fake carrier's delivery, this long after pickup."`
	CatchMail           bool          `default:"true" negatable:"" help:"Catch every e-mail in this process (GET /v1/ops/fakes/mail) instead of sending it; --no-catch-mail with --smtp-host sends for real."`
}

// mailFlags say where e-mail notifications go.
type mailFlags struct {
	SMTPHost     string `name:"smtp-host" help:"SMTP server for e-mail notifications (none: no e-mail)."`
	SMTPPort     int    `name:"smtp-port" help:"SMTP port (default by --smtp-tls: 25, 587 or 465)."`
	SMTPUsername string `name:"smtp-username" help:"SMTP AUTH user."`
	SMTPPassword string `name:"smtp-password" help:"SMTP AUTH password (better given as TIFFIN_SMTP_PASSWORD)."`
	SMTPTLS      string `name:"smtp-tls" enum:"none,starttls,tls," default:"" help:"none, starttls or tls (default: starttls with a username, else none)."`
	SMTPFrom     string `name:"smtp-from" default:"tiffin <noreply@localhost>" help:"Sender of e-mail notifications."`
}

func (f mailFlags) apply(cfg *app.Config) {
	cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPUsername, cfg.SMTPPassword, cfg.SMTPTLS, cfg.SMTPFrom =
		f.SMTPHost, f.SMTPPort, f.SMTPUsername, f.SMTPPassword, f.SMTPTLS, f.SMTPFrom
}

// carrierFlags say where carrier orders ship.
type carrierFlags struct {
	CarrierName          string `default:"carrier" help:"Name of the outside carrier; its webhooks arrive at /v1/carriers/NAME/webhooks."`
	CarrierURL           string `help:"The carrier API's base URL (the fulfil service does not run without one, or the fake carrier in dev)."`
	CarrierKey           string `help:"The carrier's API key (better given as TIFFIN_CARRIER_KEY)."`
	CarrierWebhookSecret string `help:"Standard Webhooks secret (whsec_...) the carrier signs its status webhooks with (better given as TIFFIN_CARRIER_WEBHOOK_SECRET)."`
}

func (f carrierFlags) apply(cfg *app.Config) {
	cfg.CarrierName, cfg.CarrierURL, cfg.CarrierKey, cfg.CarrierWebhookSecret = f.CarrierName, f.CarrierURL, f.CarrierKey, f.CarrierWebhookSecret
}

func (d *devCmd) Run(ctx context.Context, log *logFlags) error {
	if err := d.checkPayments("dev", d.PayProvider); err != nil {
		return err
	}
	if err := d.checkDispatch("dev"); err != nil {
		return err
	}
	cfg := d.config(*log)
	cfg.DB, cfg.NATS = d.DB, d.NATS
	cfg.Sim, cfg.SimSpeed, cfg.SimOrdersPerMinute = d.Sim, d.Speed, d.OrdersPerMin
	cfg.SimRestaurants, cfg.SimCouriers = d.SimRestaurants, d.SimCouriers
	cfg.PayProvider = d.PayProvider
	d.carrierFlags.apply(&cfg)
	cfg.FakeCarrier = d.FakeCarrier && d.CarrierURL == ""
	cfg.FakeCarrierPickupAfter, cfg.FakeCarrierDeliverAfter = d.CarrierPickupAfter, d.CarrierDeliverAfter
	d.mailFlags.apply(&cfg)
	cfg.CatchMail = d.CatchMail && d.SMTPHost == ""
	cfg.WebhooksAllowLoopback = true // dev: receivers on this machine
	cfg.HomePage = true
	return serve(ctx, cfg)
}

type serveCmd struct {
	common
	DB          string `required:"" help:"Database URL, e.g. postgres://user@host:5432/tiffin."`
	NATS        string `name:"nats" required:"" help:"NATS URL(s), e.g. nats://n1:4222,nats://n2:4222."`
	Services    string `default:"api,catalog,orders,dispatch,tracking,fulfil,notify" help:"Comma-separated services to run."`
	PayProvider string `enum:"stripe,fake," default:"" help:"Payment provider, required when the orders service runs: stripe (needs --stripe-key), or fake (a sandbox account kept in tiffin's database, moves no money) asked for by name."`
	carrierFlags
	mailFlags
	authFlags
}

// authFlags say how serve verifies bearer tokens; it holds no signing key.
type authFlags struct {
	JWTPublicKey       []string      `name:"jwt-public-key" sep:"none" placeholder:"FILE" help:"PEM file of a public key bearer tokens are signed with; several keys: several PEM blocks in one file, or the flag repeated. A block's kid header is the key ID tokens name (default: its RFC 7638 thumbprint)."`
	JWKSURL            string        `name:"jwks-url" placeholder:"URL" help:"An identity provider's JSON Web Key Set: fetched at start, every --jwks-refresh and when a token names an unknown key ID (at most every 30s)."`
	JWKSRefresh        time.Duration `name:"jwks-refresh" default:"15m" help:"How often the JWKS is fetched again."`
	JWTIssuer          string        `name:"jwt-issuer" help:"The iss every token must carry (required)."`
	JWTAudience        string        `name:"jwt-audience" help:"An aud every token must carry (required)."`
	JWTMaxLifetime     time.Duration `name:"jwt-max-lifetime" default:"24h" help:"Tokens meant to live longer (exp - iat) are refused."`
	AccountsSigningKey string        `name:"accounts-signing-key" placeholder:"FILE" help:"PEM private key (Ed25519 or ECDSA P-256) that local accounts' access tokens are signed with, for --jwt-issuer and --jwt-audience; its public half is trusted too. Without it, there are no local logins (POST /v1/auth/login answers 404)."`
}

// authConfig checks the flags and says how tokens are verified.
func (f authFlags) authConfig(cmd string) (auth.Config, error) {
	if len(f.JWTPublicKey) == 0 && f.JWKSURL == "" {
		return auth.Config{}, fmt.Errorf("%s: no keys to verify tokens with: pass --jwt-public-key FILE (PEM) or --jwks-url URL, with --jwt-issuer and --jwt-audience (only tiffin dev has a signing key)", cmd)
	}
	if f.JWTIssuer == "" || f.JWTAudience == "" {
		return auth.Config{}, fmt.Errorf("%s: pass --jwt-issuer ISS and --jwt-audience AUD: every token must carry both", cmd)
	}
	if f.JWTMaxLifetime <= 0 || f.JWKSRefresh < time.Second {
		return auth.Config{}, fmt.Errorf("%s: --jwt-max-lifetime %v and --jwks-refresh %v: want more than 0 and at least 1s", cmd, f.JWTMaxLifetime, f.JWKSRefresh)
	}
	return auth.Config{
		PublicKeyFiles: f.JWTPublicKey, JWKSURL: f.JWKSURL, JWKSRefresh: f.JWKSRefresh,
		Issuer: f.JWTIssuer, Audience: f.JWTAudience, MaxLifetime: f.JWTMaxLifetime,
	}, nil
}

func (s *serveCmd) Run(ctx context.Context, log *logFlags) error {
	authCfg, err := s.authConfig("serve")
	if err != nil {
		return err
	}
	services := strings.Split(s.Services, ",")
	if s.PayProvider == "" && slices.Contains(services, "orders") {
		return errors.New("serve: no payment provider: pass --pay-provider stripe (with --stripe-key), or --pay-provider fake, which moves no money and is for testing only")
	}
	if err := s.checkPayments("serve", s.PayProvider); err != nil {
		return err
	}
	if err := s.checkDispatch("serve"); err != nil {
		return err
	}
	cfg := s.config(*log)
	cfg.PayProvider = s.PayProvider
	cfg.DB, cfg.NATS = s.DB, s.NATS
	cfg.Services = strings.Split(s.Services, ",")
	cfg.Auth = authCfg
	cfg.AccountsSigningKey = s.AccountsSigningKey
	if s.AccountsSigningKey != "" && s.AccessTokenTTL > s.JWTMaxLifetime {
		return fmt.Errorf("serve: --access-token-ttl %v is longer than --jwt-max-lifetime %v: its tokens would be refused", s.AccessTokenTTL, s.JWTMaxLifetime)
	}
	s.carrierFlags.apply(&cfg)
	s.mailFlags.apply(&cfg)
	return serve(ctx, cfg)
}

func serve(ctx context.Context, cfg app.Config) error {
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

type migrateCmd struct {
	storeFlags
}

func (m *migrateCmd) Run(ctx context.Context) error {
	db, err := m.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Printf("migrated %s database\n", db.Dialect())
	return nil
}

type tokenCmd struct {
	Data      string        `default:"data" help:"Data directory of the tiffin dev server, holding its signing key (the same default as dev's)."`
	Role      string        `required:"" enum:"customer,restaurant,courier,ops" help:"Role: customer, restaurant, courier or ops."`
	Subject   string        `required:"" help:"Subject: the customer, restaurant owner, courier or operator ID."`
	TTL       time.Duration `default:"24h" help:"Lifetime of the token."`
	CreateKey bool          `help:"Create a signing key in --data when there is none (a dev server started later on that directory uses it)."`
}

func (t *tokenCmd) Run(out io.Writer) error {
	load := devKey
	if t.CreateKey {
		load = auth.LoadOrCreate
	}
	keys, err := load(t.Data)
	if errors.Is(err, auth.ErrNoKey) {
		return fmt.Errorf("token: %w (or --create-key to make one)", err)
	}
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	tok, err := keys.Issue(auth.Principal{Subject: t.Subject, Role: auth.Role(t.Role)}, t.TTL)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, tok)
	return nil
}

type simCmd struct {
	URL          string        `default:"http://127.0.0.1:8080" help:"Base URL of the tiffin server to drive."`
	Data         string        `default:"data" help:"Data directory holding the server's dev signing key (to mint actors' tokens)."`
	Speed        float64       `default:"20" help:"Clock multiplier for simulated actors."`
	OrdersPerMin float64       `default:"30" help:"Orders per (real) minute."`
	Restaurants  int           `default:"20" help:"Simulated restaurants."`
	Couriers     int           `default:"50" help:"Simulated couriers."`
	ReadyWithin  time.Duration `default:"5s" help:"How long to wait for the server at --url to be ready before giving up."`
}

func (s *simCmd) Run(ctx context.Context, log *logFlags) error {
	keys, err := devKey(s.Data)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return sim.New(sim.Config{
		BaseURL: s.URL, Keys: keys, Speed: s.Speed, OrdersPerMinute: s.OrdersPerMin,
		Restaurants: s.Restaurants, Couriers: s.Couriers, Logger: log.logger(), ReadyWithin: s.ReadyWithin,
	}).Run(ctx)
}

// devKey loads the dev signing key from the data directory dir, which a tiffin dev server
// creates. A directory without one is an error saying where it looked and what to do: a key
// made anew would sign tokens no server accepts.
func devKey(dir string) (*auth.Keys, error) {
	keys, err := auth.Load(dir)
	if errors.Is(err, auth.ErrNoKey) {
		return nil, fmt.Errorf("%w at %s: pass --data with the data directory of the tiffin dev server (its startup line names the key), or start tiffin dev there first", auth.ErrNoKey, auth.KeyPath(dir))
	}
	return keys, err
}
