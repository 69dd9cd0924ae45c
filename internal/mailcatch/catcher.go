// Package mailcatch is a small SMTP server that keeps the mail it is sent instead of delivering
// it: the outbox of `tiffin dev` and of tests that send e-mail for real. It accepts any sender
// and recipient without authentication, keeps the last MaxMessages messages in memory and
// refuses messages over MaxMessageBytes. It is not for production: anyone who can reach its
// port can fill it.
package mailcatch

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// Bounds on what the catcher holds.
const (
	MaxMessageBytes = 1 << 20 // a larger message is refused with 552
	MaxMessages     = 1000    // older messages are forgotten
	maxRecipients   = 100
)

// Caught is one message received. From and To are the SMTP envelope's (MAIL FROM, RCPT TO),
// the addresses the message was delivered to, whatever its headers say; the rest is read from
// the message.
type Caught struct {
	From      string
	To        []string
	Subject   string // decoded (RFC 2047)
	MessageID string // as written, with its angle brackets
	OrderID   string // header X-Tiffin-Order, if present
	Event     string // header X-Tiffin-Event, if present
	Text      string // the first text/plain part, decoded to UTF-8, line ends \n
	HTML      string // the first text/html part, likewise
	At        time.Time
}

// Catcher is a running mail catcher.
type Catcher struct {
	server *smtp.Server
	ln     net.Listener
	served chan struct{} // closed when Serve returns
	now    func() time.Time

	mu   sync.Mutex
	msgs []Caught // oldest first, at most MaxMessages

	closeOnce sync.Once
	closeErr  error
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves until Close.
func Start(addr string) (*Catcher, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailcatch: %w", err)
	}
	c := &Catcher{ln: ln, served: make(chan struct{}), now: time.Now}
	s := smtp.NewServer(backend{c})
	s.Domain = "mailcatch.tiffin"
	s.MaxMessageBytes = MaxMessageBytes
	s.MaxRecipients = maxRecipients
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0) // a client hanging up is no news in a dev catcher
	c.server = s
	go func() {
		defer close(c.served)
		_ = s.Serve(ln) // returns nil after Close; any other error ends serving, as Close would
	}()
	return c, nil
}

// Addr returns the address the catcher listens on, e.g. "127.0.0.1:41237".
func (c *Catcher) Addr() string { return c.ln.Addr().String() }

// Close stops the catcher, cutting off sessions in progress, and waits until it has stopped.
// Messages stay readable.
func (c *Catcher) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.server.Close()
		// The server closes only the listeners Serve has registered: close ours too, in case
		// Serve has not started yet.
		if err := c.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && c.closeErr == nil {
			c.closeErr = err
		}
		<-c.served
		if errors.Is(c.closeErr, net.ErrClosed) {
			c.closeErr = nil
		}
	})
	return c.closeErr
}

// Messages returns the messages kept, oldest first.
func (c *Catcher) Messages() []Caught {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Caught, len(c.msgs))
	for i, m := range c.msgs {
		m.To = slices.Clone(m.To)
		out[i] = m
	}
	return out
}

// Summary is the ops view of the caught mail (GET /v1/ops/fakes/mail); its JSON shape is a
// stable contract.
type Summary struct {
	Messages []SummaryMessage `json:"messages"` // oldest first, newest last; never null
}

// SummaryMessage is one message in a Summary.
type SummaryMessage struct {
	To      string `json:"to"` // the first recipient
	Subject string `json:"subject"`
	OrderID string `json:"order_id"`
	Event   string `json:"event"`
	// Text is the plain-text part, as the recipient reads it.
	Text string `json:"text,omitempty"`
}

// Summary returns the messages kept, newest last.
func (c *Catcher) Summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Summary{Messages: make([]SummaryMessage, 0, len(c.msgs))}
	for _, m := range c.msgs {
		var to string
		if len(m.To) > 0 {
			to = m.To[0]
		}
		out.Messages = append(out.Messages, SummaryMessage{To: to, Subject: m.Subject, OrderID: m.OrderID, Event: m.Event, Text: m.Text})
	}
	return out
}

func (c *Catcher) keep(m Caught) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) >= MaxMessages {
		n := copy(c.msgs, c.msgs[len(c.msgs)-MaxMessages+1:])
		c.msgs = c.msgs[:n]
	}
	c.msgs = append(c.msgs, m)
}

// backend makes a session per connection.
type backend struct{ c *Catcher }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: b.c}, nil }

// session is one SMTP connection's envelope in progress.
type session struct {
	c    *Catcher
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data reads the message (go-smtp refuses it past MaxMessageBytes) and keeps it, or refuses
// it with 554 when it is not a readable message.
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp's ErrDataTooLarge (552) or the connection failing
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message"}
	}
	m.From, m.To, m.At = s.from, slices.Clone(s.to), s.c.now()
	s.c.keep(m)
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }
