package app

import (
	"github.com/tiffin-dev/tiffin/internal/account"
)

// registerAccounts declares the local accounts' routes (public: POST /v1/auth/login,
// /v1/auth/refresh, /v1/auth/logout) and serves them when this process can sign access tokens
// (the dev key, or Config.AccountsSigningKey); without a signer they answer 404.
func (a *App) registerAccounts() error {
	var svc *account.Service
	if a.signer != nil {
		cfg := a.cfg.Accounts
		cfg.Signer, cfg.Metrics, cfg.Logger = a.signer, a.metrics, a.logger
		var err error
		if svc, err = account.New(a.db, cfg); err != nil {
			return err
		}
	}
	account.Register(a.srv, svc)
	return nil
}
