package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Send's errors wrap one of these: the caller sends again only after ErrTemporary.
var (
	// ErrPermanent is a message that sending again cannot deliver: the server refused the
	// sender, the recipient or the message with a 5xx reply, or the message itself is invalid
	// (a malformed address or header).
	ErrPermanent = errors.New("email: permanent failure")
	// ErrTemporary is everything else: the server unreachable, a 4xx reply, a timeout, the
	// context ended, or the session failing before the message was offered (TLS, AUTH; these
	// are our configuration or the server's state, not the message's fault).
	ErrTemporary = errors.New("email: temporary failure")
)

// The TLS modes of Config.TLS.
const (
	TLSNone     = "none"     // plain text throughout
	TLSStartTLS = "starttls" // STARTTLS required: a server that doesn't offer it is refused
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
)

// Config says how to reach the SMTP server. The zero Config sends to localhost:25 in plain
// text without authentication, as a local MTA or the dev mail catcher expects.
type Config struct {
	// Host is the server's name; default "localhost". It is also the name TLS verifies.
	Host string
	// Port defaults by TLS mode: 25 for "none", 587 for "starttls", 465 for "tls".
	Port int
	// Username and Password authenticate with SMTP AUTH when Username is set (SCRAM-SHA-256,
	// SCRAM-SHA-1, CRAM-MD5, PLAIN or LOGIN, the first the server offers). PLAIN and LOGIN are
	// refused over a connection that is not encrypted, except to localhost.
	Username, Password string
	// TLS is "none", "starttls" or "tls". Default: "starttls" when Username is set (so a
	// password never crosses the network in clear), else "none".
	TLS string
	// TLSConfig replaces the default TLS configuration (system roots, Host as server name,
	// TLS 1.2 or later); for a private CA, say. Its ServerName defaults to Host.
	TLSConfig *tls.Config
	// From is the sender, an address with or without a display name; default
	// "tiffin <noreply@localhost>".
	From string
	// Timeout bounds connecting and then each step of the conversation; default 15s. The
	// context given to Send bounds the whole.
	Timeout time.Duration
}

// SMTP sends messages through one SMTP server, one connection per message. It is safe for
// concurrent use.
type SMTP struct {
	host    string
	port    int
	mode    string
	user    string
	pass    string
	tls     *tls.Config
	from    *netmail.Address
	timeout time.Duration
}

// NewSMTP checks cfg and fills its defaults.
func NewSMTP(cfg Config) (*SMTP, error) {
	s := &SMTP{host: cfg.Host, port: cfg.Port, mode: cfg.TLS, user: cfg.Username, pass: cfg.Password, timeout: cfg.Timeout}
	if s.host == "" {
		s.host = "localhost"
	}
	if s.mode == "" {
		s.mode = TLSNone
		if s.user != "" {
			s.mode = TLSStartTLS
		}
	}
	defaultPort := map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}
	if _, ok := defaultPort[s.mode]; !ok {
		return nil, fmt.Errorf("email: TLS mode %q: want none, starttls or tls", cfg.TLS)
	}
	if s.port == 0 {
		s.port = defaultPort[s.mode]
	}
	if s.port < 0 || s.port > 65535 {
		return nil, fmt.Errorf("email: port %d out of range", s.port)
	}
	if s.timeout == 0 {
		s.timeout = mail.DefaultTimeout
	}
	if s.timeout < 0 {
		return nil, fmt.Errorf("email: negative timeout %v", s.timeout)
	}
	from := cfg.From
	if from == "" {
		from = "tiffin <noreply@localhost>"
	}
	var err error
	if s.from, err = netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("email: from %q: %w", from, err)
	}
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// Outgoing is one message to one recipient.
type Outgoing struct {
	To     string // the address alone: asha@example.com
	ToName string // optional display name
	// Subject and Text are required; HTML, when set, is sent as the alternative to Text.
	Subject, Text, HTML string
	// MessageID identifies the message for good and must be derived from the caller's own
	// record (the notification's ID), never generated per attempt, so a message sent again
	// after a crash carries the same Message-ID and receivers can tell it is the same one.
	// "ntf_123" is sent as <ntf_123@tiffin>; "<ntf_123@tiffin.example>" or
	// "ntf_123@tiffin.example" as given.
	MessageID string
	// Headers are added as they are (X-Tiffin-Order, X-Tiffin-Event, Content-Language...);
	// they may not replace the headers Send writes itself (From, To, Subject, Message-ID,
	// Date, MIME and content headers).
	Headers map[string]string
}

// reserved are the headers Send (or go-mail) writes, which Outgoing.Headers may not set.
var reserved = []string{
	"Bcc", "Cc", "Content-Transfer-Encoding", "Content-Type", "Date", "From",
	"Message-Id", "Mime-Version", "Return-Path", "Sender", "Subject", "To",
}

// Send delivers m. Its error wraps ErrPermanent or ErrTemporary (and, when ctx ended, ctx's
// error). A message the server accepted counts as sent even if closing the session then fails.
func (s *SMTP) Send(ctx context.Context, m Outgoing) error {
	id, err := messageID(m.MessageID)
	if err != nil {
		return fmt.Errorf("send mail: %w: %w", ErrPermanent, err)
	}
	msg, err := s.message(m, id)
	if err != nil {
		return fmt.Errorf("send mail %s: %w: %w", id, ErrPermanent, err)
	}
	var stop func() bool // stops closing the connection when ctx ends
	client, err := s.client(s.dial(ctx, &stop))
	if err != nil {
		return fmt.Errorf("send mail %s: %w", id, err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if stop != nil {
		stop()
	}
	switch {
	case msg.IsDelivered():
		return nil // a failed RSET or QUIT after the server took the message changes nothing
	case err == nil: // not delivered and no error: not expected of go-mail, but never "sent"
		return fmt.Errorf("send mail %s: %w: not delivered", id, ErrTemporary)
	case ctx.Err() != nil:
		return fmt.Errorf("send mail %s: %w: %w (%w)", id, ErrTemporary, ctx.Err(), err)
	case permanent(err):
		return fmt.Errorf("send mail %s: %w: %w", id, ErrPermanent, err)
	default:
		return fmt.Errorf("send mail %s: %w: %w", id, ErrTemporary, err)
	}
}

// message builds the MIME message for m.
func (s *SMTP) message(m Outgoing, id string) (*mail.Msg, error) {
	if m.Subject == "" || m.Text == "" {
		return nil, errors.New("subject and text are required")
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if _, err := netmail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "<>") {
		return nil, fmt.Errorf("recipient %q: not an address alone", m.To)
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(id)
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		value := m.Headers[name]
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case !validHeaderName(name):
			return nil, fmt.Errorf("header name %q is not a field name", name)
		case strings.ContainsAny(value, "\r\n"):
			return nil, fmt.Errorf("header %s: value has a line break", name)
		case slices.Contains(reserved, canon):
			return nil, fmt.Errorf("header %s is written by Send", canon)
		}
		msg.SetGenHeader(mail.Header(canon), value)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// client returns a go-mail client for one message: a fresh one each time, since go-mail's
// client keeps per-session state.
func (s *SMTP) client(dial mail.DialContextFunc) (*mail.Client, error) {
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTimeout(s.timeout),
		mail.WithTLSConfig(s.tls),
		mail.WithDialContextFunc(dial),
	}
	switch s.mode {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default: // none, or tls where dial has already encrypted the connection
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.user != "" {
		opts = append(opts,
			mail.WithUsername(s.user), mail.WithPassword(s.pass),
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1,
				mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin))
	}
	c, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: smtp client: %w", ErrTemporary, err)
	}
	return c, nil
}

// dial connects (with TLS from the start in "tls" mode) and closes the connection when ctx
// ends, since go-mail watches the context only while dialling; *stop cancels the closing.
func (s *SMTP) dial(ctx context.Context, stop *func() bool) mail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var (
			conn net.Conn
			err  error
		)
		if s.mode == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = nd.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		*stop = context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// permanent says whether err is a 5xx reply to the message's own commands (MAIL FROM, RCPT
// TO, DATA and its end) or a message go-mail could not write. Replies during the session's
// setup (greeting, EHLO, STARTTLS, AUTH) are not: they say nothing about the message.
func permanent(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return true
	case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() < 600
	}
	return false
}

// messageID returns the Message-ID value (without angle brackets) for the caller's id.
func messageID(id string) (string, error) {
	v := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	if v == "" {
		return "", errors.New("message ID is required")
	}
	if !strings.Contains(v, "@") {
		v += "@tiffin"
	}
	left, right, _ := strings.Cut(v, "@")
	if left == "" || right == "" || strings.Count(v, "@") != 1 || len(v) > 250 {
		return "", fmt.Errorf("message ID %q: want local@domain", id)
	}
	for _, r := range v {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`<>()[]\,;:"`, r) {
			return "", fmt.Errorf("message ID %q: character %q not allowed", id, r)
		}
	}
	return v, nil
}

// validHeaderName reports whether name is an RFC 5322 field name: printable ASCII but colon.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}
