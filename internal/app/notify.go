package app

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/mailcatch"
	"github.com/tiffin-dev/tiffin/internal/netguard"
	"github.com/tiffin-dev/tiffin/internal/notify"
	"github.com/tiffin-dev/tiffin/internal/notify/email"
)

// startNotify builds the notification service on the job queue q: in-app always; e-mail
// through cfg.SMTPHost, or through the mail catcher this process runs (cfg.CatchMail, dev),
// or not at all; webhooks to globally reachable addresses (and loopback with
// cfg.WebhooksAllowLoopback, dev).
func (a *App) startNotify(q *jobs.Queue) error {
	cfg := a.cfg
	senders := map[string]notify.Sender{}
	policy := netguard.Policy{AllowLoopback: cfg.WebhooksAllowLoopback}
	senders[notify.Webhook] = notify.NewWebhookSender(a.db, policy, 0, nil)
	smtpCfg := email.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		TLS: cfg.SMTPTLS, From: cfg.SMTPFrom}
	if cfg.CatchMail {
		c, err := mailcatch.Start("127.0.0.1:0")
		if err != nil {
			return err
		}
		a.mail = c
		host, port, _ := net.SplitHostPort(c.Addr())
		p, _ := strconv.Atoi(port)
		smtpCfg = email.Config{Host: host, Port: p, TLS: "none", From: cfg.SMTPFrom}
		a.logger.Info("e-mail is caught in this process, never sent out: GET /v1/ops/fakes/mail", "smtp", c.Addr())
	}
	if smtpCfg.Host != "" {
		smtp, err := email.NewSMTP(smtpCfg)
		if err != nil {
			return err
		}
		s, err := notify.NewSMTPSender(smtp)
		if err != nil {
			return err
		}
		senders[notify.Email] = s
	} else {
		a.logger.Warn("no SMTP server configured (--smtp-host): customers get no e-mail, only in-app notifications and webhooks")
	}
	n, err := notify.New(a.db, a.bus, q, notify.Config{
		Senders: senders, Policy: policy, Logger: a.logger, Metrics: a.metrics, Lead: a.leases.Run,
	})
	if err != nil {
		return err
	}
	n.Register(a.srv)
	a.addDeadLetters(notificationDeadLetters{n: n})
	a.runners = append(a.runners, runner{"notify", n.Run})
	if a.mail != nil {
		mail := a.mail
		httpapi.Handle(a.srv, huma.Operation{
			OperationID: "get-fake-mail", Method: http.MethodGet, Path: "/v1/ops/fakes/mail", Tags: []string{"dev"},
			Summary: "list the mail caught in dev, oldest first",
		}, []auth.Role{auth.Ops}, func(context.Context, auth.Principal, *struct{}) (*mailOutput, error) {
			return &mailOutput{Body: mail.Summary()}, nil
		})
	}
	return nil
}

type mailOutput struct{ Body mailcatch.Summary }
