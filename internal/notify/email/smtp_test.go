package email

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/mailcatch"
)

// hostPort splits addr for Config.
func hostPort(tb testing.TB, addr string) (string, int) {
	tb.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatal(err)
	}
	return host, port
}

func newSMTP(tb testing.TB, cfg Config) *SMTP {
	tb.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		tb.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func TestSendRoundTrip(t *testing.T) {
	t.Parallel()
	catcher, err := mailcatch.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catcher.Close() })
	host, port := hostPort(t, catcher.Addr())
	s := newSMTP(t, Config{Host: host, Port: port, From: "tiffin <orders@tiffin.test>", Timeout: 5 * time.Second})
	ts := newTemplates(t)

	type sent struct {
		msg       Message
		messageID string
	}
	var want []sent
	for _, lang := range []string{"en", "hi", "fr"} {
		for _, kind := range Kinds() {
			d := fullData()
			d.CustomerName = "Asha <Rao> & co"
			m, err := ts.Render(kind, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			id := "ntf_" + kind + "_" + lang
			err = s.Send(t.Context(), Outgoing{
				To: "asha@example.com", ToName: d.CustomerName,
				Subject: m.Subject, Text: m.Text, HTML: m.HTML,
				MessageID: id,
				Headers:   map[string]string{"X-Tiffin-Order": d.OrderID, "X-Tiffin-Event": kind, "Content-Language": m.Lang},
			})
			if err != nil {
				t.Fatalf("Send(%s, %s): %v", kind, lang, err)
			}
			want = append(want, sent{m, "<" + id + "@tiffin>"})
		}
	}

	got := catcher.Messages()
	if len(got) != len(want) {
		t.Fatalf("caught %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.MessageID != w.messageID {
			t.Errorf("message %d: Message-ID = %q, want %q", i, g.MessageID, w.messageID)
		}
		kind := strings.TrimSuffix(strings.TrimPrefix(w.messageID, "<ntf_"), "_"+w.msg.Lang+"@tiffin>")
		if g.OrderID != "ord_01HZX" || g.Event != kind {
			t.Errorf("%s: X-Tiffin-Order, X-Tiffin-Event = %q, %q, want ord_01HZX, %s", w.messageID, g.OrderID, g.Event, kind)
		}
		if g.From != "orders@tiffin.test" || len(g.To) != 1 || g.To[0] != "asha@example.com" {
			t.Errorf("%s: envelope %s -> %v, want orders@tiffin.test -> [asha@example.com]", w.messageID, g.From, g.To)
		}
		if g.Subject != w.msg.Subject {
			t.Errorf("%s: Subject = %q, want %q", w.messageID, g.Subject, w.msg.Subject)
		}
		if diff := cmp.Diff(w.msg.Text, g.Text); diff != "" {
			t.Errorf("%s: text part (-want +got):\n%s", w.messageID, diff)
		}
		if diff := cmp.Diff(w.msg.HTML, g.HTML); diff != "" {
			t.Errorf("%s: html part (-want +got):\n%s", w.messageID, diff)
		}
	}
}

func TestSendAgainKeepsTheMessageID(t *testing.T) {
	t.Parallel()
	catcher, err := mailcatch.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catcher.Close() })
	host, port := hostPort(t, catcher.Addr())
	s := newSMTP(t, Config{Host: host, Port: port})
	for _, id := range []string{"ntf_9", "<ntf_9@tiffin>", "ntf_9@tiffin"} {
		if err := s.Send(t.Context(), Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: id}); err != nil {
			t.Fatalf("Send(%q): %v", id, err)
		}
	}
	for i, m := range catcher.Messages() {
		if m.MessageID != "<ntf_9@tiffin>" {
			t.Errorf("message %d: Message-ID = %q, want <ntf_9@tiffin>", i, m.MessageID)
		}
	}
}

func TestSendClassifiesRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		rcptErr, dataErr error
		want             error
	}{
		{"recipient unknown", smtpErr(550), nil, ErrPermanent},
		{"mailbox full, try later", smtpErr(452), nil, ErrTemporary},
		{"content rejected", nil, smtpErr(554), ErrPermanent},
		{"greylisted at data", nil, smtpErr(451), ErrTemporary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &refuser{rcptErr: tc.rcptErr, dataErr: tc.dataErr}
			host, port := hostPort(t, serve(t, b, nil, false))
			err := newSMTP(t, Config{Host: host, Port: port}).Send(t.Context(),
				Outgoing{To: "gone@example.com", Subject: "s", Text: "t", MessageID: "n1"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			other := ErrTemporary
			if tc.want == ErrTemporary {
				other = ErrPermanent
			}
			if errors.Is(err, other) {
				t.Errorf("err = %v is both permanent and temporary", err)
			}
		})
	}
}

func TestSendToAClosedPortIsTemporary(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port := hostPort(t, ln.Addr().String())
	ln.Close()
	err = newSMTP(t, Config{Host: host, Port: port}).Send(t.Context(),
		Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: "n1"})
	if !errors.Is(err, ErrTemporary) || errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want ErrTemporary only", err)
	}
}

func TestSendGivesUpWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	host, port := hostPort(t, ln.Addr().String())
	s := newSMTP(t, Config{Host: host, Port: port, Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: "n1"})
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTemporary and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
}

func TestSendRefusesInvalidMessages(t *testing.T) {
	t.Parallel()
	b := &refuser{}
	host, port := hostPort(t, serve(t, b, nil, false))
	s := newSMTP(t, Config{Host: host, Port: port})
	ok := Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: "n1"}
	for name, change := range map[string]func(*Outgoing){
		"no message ID":       func(o *Outgoing) { o.MessageID = "" },
		"message ID spaces":   func(o *Outgoing) { o.MessageID = "a b" },
		"message ID two @":    func(o *Outgoing) { o.MessageID = "a@b@c" },
		"no subject":          func(o *Outgoing) { o.Subject = "" },
		"no text":             func(o *Outgoing) { o.Text = "" },
		"bad address":         func(o *Outgoing) { o.To = "not an address" },
		"address with a name": func(o *Outgoing) { o.To = "Asha <a@example.com>" },
		"header injection":    func(o *Outgoing) { o.Headers = map[string]string{"X-A": "1\r\nBcc: x@example.com"} },
		"bad header name":     func(o *Outgoing) { o.Headers = map[string]string{"X A": "1"} },
		"reserved header":     func(o *Outgoing) { o.Headers = map[string]string{"message-id": "<x@y>"} },
	} {
		o := ok
		change(&o)
		if err := s.Send(t.Context(), o); !errors.Is(err, ErrPermanent) {
			t.Errorf("%s: err = %v, want ErrPermanent", name, err)
		}
	}
	if _, n := b.seen(); n != 0 {
		t.Errorf("%d invalid messages reached the server", n)
	}
	if err := s.Send(t.Context(), ok); err != nil {
		t.Fatalf("valid message: %v", err)
	}
}

func TestSendEncryptedWithAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	for _, tc := range []struct {
		mode     string
		implicit bool
	}{{"", false}, {TLSStartTLS, false}, {TLSImplicit, true}} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			t.Parallel()
			b := &refuser{user: "tiffin", pass: "s3cret"}
			host, port := hostPort(t, serve(t, b, serverTLS, tc.implicit))
			cfg := Config{Host: host, Port: port, TLS: tc.mode, Username: "tiffin", Password: "s3cret", TLSConfig: clientTLS}
			if err := newSMTP(t, cfg).Send(t.Context(), Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: "n1"}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			authed, n := b.seen()
			if diff := cmp.Diff([]string{"tiffin"}, authed); diff != "" || n != 1 {
				t.Errorf("authenticated %v (want [tiffin]), delivered %d (want 1)", authed, n)
			}
		})
	}
}

func TestStartTLSIsRequiredWithAUsername(t *testing.T) {
	t.Parallel()
	b := &refuser{user: "tiffin", pass: "s3cret"}
	host, port := hostPort(t, serve(t, b, nil, false)) // no STARTTLS on offer
	err := newSMTP(t, Config{Host: host, Port: port, Username: "tiffin", Password: "s3cret"}).Send(t.Context(),
		Outgoing{To: "a@example.com", Subject: "s", Text: "t", MessageID: "n1"})
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	if authed, n := b.seen(); len(authed) != 0 || n != 0 {
		t.Errorf("authenticated %v, delivered %d over plain text", authed, n)
	}
}

func TestNewSMTPDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     Config
		mode    string
		port    int
		wantErr bool
	}{
		{Config{}, TLSNone, 25, false},
		{Config{Username: "u"}, TLSStartTLS, 587, false},
		{Config{TLS: TLSImplicit}, TLSImplicit, 465, false},
		{Config{TLS: TLSNone, Port: 2525}, TLSNone, 2525, false},
		{Config{TLS: "ssl"}, "", 0, true},
		{Config{From: "not an address"}, "", 0, true},
		{Config{Timeout: -time.Second}, "", 0, true},
	} {
		s, err := NewSMTP(tc.cfg)
		if (err != nil) != tc.wantErr {
			t.Errorf("NewSMTP(%+v): err = %v, want error %v", tc.cfg, err, tc.wantErr)
			continue
		}
		if err == nil && (s.mode != tc.mode || s.port != tc.port || s.host != "localhost") {
			t.Errorf("NewSMTP(%+v) = %s %s:%d, want %s localhost:%d", tc.cfg, s.mode, s.host, s.port, tc.mode, tc.port)
		}
	}
}
