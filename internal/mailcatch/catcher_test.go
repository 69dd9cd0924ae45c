package mailcatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func start(tb testing.TB) *Catcher {
	tb.Helper()
	c, err := Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return c
}

// send delivers raw (with \n line ends) to c with the standard library's client.
func send(tb testing.TB, c *Catcher, from string, to []string, raw string) error {
	tb.Helper()
	return smtp.SendMail(c.Addr(), nil, from, to, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

const alternative = `From: tiffin <orders@tiffin.test>
To: Asha <asha@example.com>
Subject: =?UTF-8?q?Votre_commande_ord=5F1_a_=C3=A9t=C3=A9_livr=C3=A9e?=
Message-ID: <ntf_1@tiffin>
X-Tiffin-Order: ord_1
X-Tiffin-Event: delivered
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b1

--b1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Bon app=C3=A9tit !
Ligne deux, tr=C3=A8s longue, coup=
=C3=A9e.
--b1
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PHA+Qm9uIGFwcMOpdGl0ICE8L3A+
--b1--
`

func TestCatchesMessages(t *testing.T) {
	t.Parallel()
	c := start(t)
	before := time.Now()
	if err := send(t, c, "orders@tiffin.test", []string{"asha@example.com", "ops@tiffin.test"}, alternative); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := send(t, c, "orders@tiffin.test", []string{"ravi@example.com"}, "Subject: plain\n\nhello\n"); err != nil {
		t.Fatalf("send: %v", err)
	}

	got := c.Messages()
	if len(got) != 2 {
		t.Fatalf("caught %d messages, want 2", len(got))
	}
	if got[0].At.Before(before) || got[0].At.After(time.Now()) {
		t.Errorf("At = %v, want the time it arrived", got[0].At)
	}
	want := []Caught{{
		From:      "orders@tiffin.test",
		To:        []string{"asha@example.com", "ops@tiffin.test"},
		Subject:   "Votre commande ord_1 a été livrée",
		MessageID: "<ntf_1@tiffin>",
		OrderID:   "ord_1",
		Event:     "delivered",
		Text:      "Bon appétit !\nLigne deux, très longue, coupée.",
		HTML:      "<p>Bon appétit !</p>",
	}, {
		From:    "orders@tiffin.test",
		To:      []string{"ravi@example.com"},
		Subject: "plain",
		Text:    "hello\n",
	}}
	if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".At" }, cmp.Ignore())); diff != "" {
		t.Errorf("Messages() (-want +got):\n%s", diff)
	}

	b, err := json.Marshal(c.Summary())
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"messages":[` +
		`{"to":"asha@example.com","subject":"Votre commande ord_1 a été livrée","order_id":"ord_1","event":"delivered","text":"Bon appétit !\nLigne deux, très longue, coupée."},` +
		`{"to":"ravi@example.com","subject":"plain","order_id":"","event":"","text":"hello\n"}]}`
	if string(b) != wantJSON {
		t.Errorf("Summary JSON = %s, want %s", b, wantJSON)
	}
}

func TestSummaryOfNothingIsAnEmptyList(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(start(t).Summary())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"messages":[]}`; got != want {
		t.Errorf("Summary JSON = %s, want %s", got, want)
	}
}

func TestMessagesAreCopies(t *testing.T) {
	t.Parallel()
	c := start(t)
	if err := send(t, c, "a@x.test", []string{"b@x.test"}, "Subject: s\n\nbody\n"); err != nil {
		t.Fatal(err)
	}
	c.Messages()[0].To[0] = "changed"
	if got := c.Messages()[0].To[0]; got != "b@x.test" {
		t.Errorf("To[0] = %q after changing a copy, want b@x.test", got)
	}
}

func TestRefusesLargeMessages(t *testing.T) {
	t.Parallel()
	c := start(t)
	raw := "Subject: big\n\n" + strings.Repeat(strings.Repeat("x", 99)+"\n", MaxMessageBytes/100+1)
	err := send(t, c, "a@x.test", []string{"b@x.test"}, raw)
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 552 {
		t.Fatalf("err = %v, want a 552 reply", err)
	}
	if n := len(c.Messages()); n != 0 {
		t.Errorf("caught %d messages, want none", n)
	}
	if err := send(t, c, "a@x.test", []string{"b@x.test"}, "Subject: small\n\nok\n"); err != nil {
		t.Fatalf("a small message after a refused one: %v", err)
	}
}

func TestRefusesMalformedMessages(t *testing.T) {
	t.Parallel()
	c := start(t)
	raw := "Subject: s\nContent-Type: multipart/mixed\n\nno boundary\n"
	err := send(t, c, "a@x.test", []string{"b@x.test"}, raw)
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 554 {
		t.Fatalf("err = %v, want a 554 reply", err)
	}
}

func TestKeepsTheLatestMessages(t *testing.T) {
	t.Parallel()
	c := &Catcher{}
	for i := range MaxMessages + 5 {
		c.keep(Caught{Subject: fmt.Sprint(i)})
	}
	got := c.Messages()
	if len(got) != MaxMessages {
		t.Fatalf("kept %d, want %d", len(got), MaxMessages)
	}
	if got[0].Subject != "5" || got[len(got)-1].Subject != fmt.Sprint(MaxMessages+4) {
		t.Errorf("kept %s..%s, want 5..%d", got[0].Subject, got[len(got)-1].Subject, MaxMessages+4)
	}
}

func TestCloseStopsServing(t *testing.T) {
	t.Parallel()
	c, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := send(t, c, "a@x.test", []string{"b@x.test"}, "Subject: s\n\nx\n"); err == nil {
		t.Fatal("send to a closed catcher succeeded")
	}
}
