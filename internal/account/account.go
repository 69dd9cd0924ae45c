// Package account owns local accounts for ops and restaurant staff: usernames with argon2id
// password hashes (password.go), logins that issue short-lived access tokens (JWTs signed by an
// auth.Signer) and rotating refresh tokens with reuse detection (refresh.go), login throttling
// kept in the store so replicas agree (throttle.go), and the routes /v1/auth/login, /refresh
// and /logout (http.go). Accounts are added and disabled from the command line (Add, Disable).
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Errors callers branch on. Their messages are what clients are told.
var (
	// ErrBadCredentials answers every failed login alike: unknown username, wrong password,
	// disabled account.
	ErrBadCredentials = fault.New(fault.Unauthenticated, "invalid username or password")
	// ErrBadRefresh answers a refresh token that is unknown, expired, used, revoked or whose
	// account is disabled.
	ErrBadRefresh = fault.New(fault.Unauthenticated, "invalid or expired refresh token")
	// ErrNotEnabled answers the login routes of a server that cannot sign access tokens.
	ErrNotEnabled = fault.New(fault.NotFound, "local accounts are not enabled on this server (tiffin serve needs --accounts-signing-key)")
	ErrExists     = fault.New(fault.Conflict, "an account with this username exists")
	ErrNotFound   = fault.New(fault.NotFound, "account not found")
)

// Roles local accounts may have: staff, not customers or couriers.
var Roles = []auth.Role{auth.Ops, auth.Restaurant}

// Defaults of Config.
const (
	DefaultAccessTTL          = 15 * time.Minute
	DefaultRefreshTTL         = 30 * 24 * time.Hour
	DefaultMaxFailures        = 5
	DefaultMaxAddressFailures = 20
	DefaultWindow             = 15 * time.Minute
	DefaultLockout            = time.Minute
	DefaultMaxLockout         = time.Hour
)

// Config configures the Service. Signer is required; the rest have documented defaults.
type Config struct {
	// Signer signs access tokens: the dev key's (dev) or --accounts-signing-key's (serve).
	Signer *auth.Signer
	// AccessTTL is an access token's lifetime (default DefaultAccessTTL, 15m); RefreshTTL a
	// refresh token's (default DefaultRefreshTTL, 30 days; each refresh starts it again).
	AccessTTL, RefreshTTL time.Duration
	// Params are argon2id's costs for new hashes and the unknown-username dummy. Default
	// DefaultParams (OWASP's).
	Params Params
	// MaxFailures failed logins for one username within Window lock it out (default 5);
	// MaxAddressFailures for one client address (default 20: an office behind one address).
	// The first lock-out lasts Lockout (default 1m), each next one in a row twice as long, up
	// to MaxLockout (default 1h); a successful login resets the username's.
	MaxFailures, MaxAddressFailures int
	Window, Lockout, MaxLockout     time.Duration
	// MaxHashing bounds the password hashes computed at once (each takes Params.Memory).
	// Default 2 x GOMAXPROCS.
	MaxHashing int
	// Metrics receives tiffin_logins_total{result} and tiffin_login_lockouts_total{scope}.
	// Default: a fresh registry.
	Metrics *telemetry.Metrics
	// Logger defaults to slog.Default(); Now to time.Now.
	Logger *slog.Logger
	Now    func() time.Time
}

func (c *Config) defaults() {
	if c.AccessTTL <= 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.Params == (Params{}) {
		c.Params = DefaultParams
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.MaxAddressFailures <= 0 {
		c.MaxAddressFailures = DefaultMaxAddressFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Lockout <= 0 {
		c.Lockout = DefaultLockout
	}
	if c.MaxLockout < c.Lockout {
		c.MaxLockout = max(DefaultMaxLockout, c.Lockout)
	}
	if c.MaxHashing <= 0 {
		c.MaxHashing = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Metrics == nil {
		c.Metrics = telemetry.NewMetrics()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service logs local accounts in and keeps their refresh tokens.
type Service struct {
	db      *store.DB
	cfg     Config
	log     *slog.Logger
	hashing chan struct{}
	dummy   func() string // a hash under cfg.Params, checked for unknown usernames
	// checked, when set (tests), sees the parameters of every hash a login checks.
	checked  func(Params)
	logins   *prometheus.CounterVec
	lockouts *prometheus.CounterVec
	reuses   prometheus.Counter
}

// New returns the service over db. It registers its metrics on cfg.Metrics.
func New(db *store.DB, cfg Config) (*Service, error) {
	if cfg.Signer == nil {
		return nil, errors.New("account: no signer for access tokens")
	}
	cfg.defaults()
	s := &Service{db: db, cfg: cfg, log: cfg.Logger.With("svc", "account"), hashing: make(chan struct{}, cfg.MaxHashing)}
	s.dummy = sync.OnceValue(func() string {
		h, err := HashPassword("not a password anyone has: only checked to spend the time", cfg.Params)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		return h
	})
	s.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiffin_logins_total", Help: "Local account logins by result: ok, failed (bad credentials), throttled (refused, locked out).",
	}, []string{"result"})
	s.lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiffin_login_lockouts_total", Help: "Login lock-outs started, by what was locked out: username or address.",
	}, []string{"scope"})
	s.reuses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tiffin_refresh_token_reuses_total", Help: "Used refresh tokens presented again (each revoked its family).",
	})
	for _, c := range []prometheus.Collector{s.logins, s.lockouts, s.reuses} {
		if err := cfg.Metrics.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("account: metrics: %w", err)
		}
	}
	return s, nil
}

// Tokens is what a login or a refresh answers: an OAuth 2.0-style token response.
type Tokens struct {
	AccessToken  string `json:"access_token" doc:"A bearer token for the API, short-lived."`
	TokenType    string `json:"token_type" doc:"Bearer."`
	ExpiresIn    int    `json:"expires_in" doc:"Seconds the access token lives."`
	RefreshToken string `json:"refresh_token" doc:"Trade it once at /v1/auth/refresh for a new pair; presenting it a second time revokes every token of the login."`
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// normalize is the username a login names: usernames are lower case.
func normalize(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// Login checks username and password (from the client at addr, "" when unknown) and issues
// an access token and a refresh token starting a new family. Every refusal of the credentials
// is ErrBadCredentials, after the same work: an unknown username checks the password against
// a dummy hash. A username or address locked out by failures is a *fault.Throttled.
func (s *Service) Login(ctx context.Context, username, password, addr string) (Tokens, error) {
	now := s.cfg.Now()
	name := normalize(username)
	keys := []throttleKey{{"user:" + name, s.cfg.MaxFailures, "username"}}
	if addr != "" {
		keys = append(keys, throttleKey{"addr:" + addr, s.cfg.MaxAddressFailures, "address"})
	}
	if wait, err := s.lockedFor(ctx, keys, now); err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	} else if wait > 0 {
		s.logins.WithLabelValues("throttled").Inc()
		return Tokens{}, &fault.Throttled{RetryAfter: wait, Msg: "too many failed logins: retry later"}
	}
	a, err := get(ctx, s.db, name)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	hash := s.dummy()
	if found {
		hash = a.PasswordHash
	}
	ok, params, err := s.check(ctx, password, hash)
	if err != nil {
		if ctx.Err() != nil {
			return Tokens{}, fmt.Errorf("login: %w", err)
		}
		s.log.Error("stored password hash unreadable", "username", name, "err", err)
	}
	if !found || !ok || a.DisabledAt != 0 {
		s.logins.WithLabelValues("failed").Inc()
		if err := s.failed(ctx, keys, now); err != nil {
			return Tokens{}, fmt.Errorf("login: %w", err)
		}
		return Tokens{}, ErrBadCredentials
	}
	if params != s.cfg.Params {
		s.rehash(ctx, name, password)
	}
	var t Tokens
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.succeeded(ctx, tx, keys[0].key); err != nil {
			return err
		}
		var err error
		t, err = s.issue(ctx, tx, a, newFamily(), now)
		return err
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("login %s: %w", name, err)
	}
	s.logins.WithLabelValues("ok").Inc()
	return t, nil
}

// check compares password with hash, at most MaxHashing at once.
func (s *Service) check(ctx context.Context, password, hash string) (bool, Params, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, Params{}, ctx.Err()
	}
	defer func() { <-s.hashing }()
	ok, p, err := CheckHash(password, hash)
	if s.checked != nil {
		s.checked(p)
	}
	return ok, p, err
}

// rehash stores password under the current parameters, for a hash made under older ones.
func (s *Service) rehash(ctx context.Context, username, password string) {
	h, err := HashPassword(password, s.cfg.Params)
	if err == nil {
		_, err = s.db.Write(ctx, `UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE username = $1`,
			username, h, store.Now(s.cfg.Now()))
	}
	if err != nil {
		s.log.Warn("rehash a password under the current parameters", "username", username, "err", err)
	}
}

// issue signs an access token for a and stores a new refresh token of family.
func (s *Service) issue(ctx context.Context, tx *store.Tx, a Account, family string, now time.Time) (Tokens, error) {
	access, err := s.cfg.Signer.Issue(auth.Principal{Subject: a.Subject, Role: a.Role}, s.cfg.AccessTTL)
	if err != nil {
		return Tokens{}, err
	}
	refresh, err := storeRefresh(ctx, tx, a.Username, family, now, now.Add(s.cfg.RefreshTTL))
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second), RefreshToken: refresh}, nil
}
