package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/netguard"
	"github.com/tiffin-dev/tiffin/internal/notify/email"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// inAppSender puts the notification in its recipient's inbox (GET /v1/notifications), under
// the message's ID, so a repeated attempt adds nothing.
type inAppSender struct{ s *Service }

func (a inAppSender) Send(ctx context.Context, m Message) error {
	var c Content
	if err := json.Unmarshal(m.Payload, &c); err != nil {
		return fmt.Errorf("%w: in-app payload: %v", ErrPermanent, err)
	}
	r, err := a.s.tmpl.Render(m.Kind, c.Lang, c.Data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	_, err = a.s.db.ExecContext(ctx,
		`INSERT INTO notifications (id, recipient, kind, order_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Recipient, m.Kind, m.OrderID, r.Subject, inAppBody(r.Text), store.Now(m.CreatedAt))
	return err
}

// SMTPSender sends e-mail notifications through an SMTP server, rendered from the templates
// in the recipient's language. The message's ID is the Message-ID, and X-Tiffin-Order and
// X-Tiffin-Event say what it is about.
type SMTPSender struct {
	smtp *email.SMTP
	tmpl *email.Templates
}

// NewSMTPSender returns an e-mail sender over smtp.
func NewSMTPSender(smtp *email.SMTP) (*SMTPSender, error) {
	t, err := email.NewTemplates()
	if err != nil {
		return nil, err
	}
	return &SMTPSender{smtp: smtp, tmpl: t}, nil
}

// Send implements Sender.
func (e *SMTPSender) Send(ctx context.Context, m Message) error {
	var c Content
	if err := json.Unmarshal(m.Payload, &c); err != nil {
		return fmt.Errorf("%w: e-mail payload: %v", ErrPermanent, err)
	}
	r, err := e.tmpl.Render(m.Kind, c.Lang, c.Data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	err = e.smtp.Send(ctx, email.Outgoing{
		To: m.Recipient, ToName: c.Name, Subject: r.Subject, Text: r.Text, HTML: r.HTML, MessageID: m.ID,
		Headers: map[string]string{"X-Tiffin-Order": m.OrderID, "X-Tiffin-Event": m.Kind, "Content-Language": r.Lang},
	})
	if errors.Is(err, email.ErrPermanent) {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return err
}

// WebhookSender POSTs webhook messages to their endpoints, signed per Standard Webhooks under
// the endpoint's secret, with the message ID as webhook-id. Only globally reachable addresses
// are dialled (netguard), redirects included. A 2xx answer is delivery; anything else, or no
// answer, is a failure to retry.
type WebhookSender struct {
	db     *store.DB
	client *http.Client
	now    func() time.Time
}

// NewWebhookSender returns a webhook sender dialling under policy, each request bounded by
// timeout (default 10 s).
func NewWebhookSender(db *store.DB, policy netguard.Policy, timeout time.Duration, now func() time.Time) *WebhookSender {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &WebhookSender{db: db, client: policy.Client(timeout), now: now}
}

// Send implements Sender.
func (w *WebhookSender) Send(ctx context.Context, m Message) error {
	var url, secretText string
	if err := w.db.QueryRowContext(ctx, `SELECT url, secret FROM webhook_endpoints WHERE id = $1`, m.Recipient).Scan(&url, &secretText); err != nil {
		return fmt.Errorf("webhook endpoint %s: %w", m.Recipient, err)
	}
	secret, err := standardwebhook.ParseSecret(secretText)
	if err != nil {
		return fmt.Errorf("%w: endpoint secret: %v", ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Payload))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tiffin-webhooks/1")
	standardwebhook.SetHeaders(req.Header, m.ID, w.now(), m.Payload, secret)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// inAppBody is an e-mail's text without its signature ("-- " and what follows, or "--"),
// which speaks of e-mail.
func inAppBody(text string) string {
	for _, sep := range []string{"\n-- \n", "\n--\n"} {
		if i := strings.LastIndex(text, sep); i >= 0 {
			return strings.TrimSpace(text[:i])
		}
	}
	return strings.TrimSpace(text)
}
