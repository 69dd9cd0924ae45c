package email

import (
	"errors"
	"math"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func newTemplates(tb testing.TB) *Templates {
	tb.Helper()
	ts, err := NewTemplates()
	if err != nil {
		tb.Fatalf("NewTemplates: %v", err)
	}
	return ts
}

var ist = time.FixedZone("IST", 5*3600+1800)

func fullData() Data {
	return Data{
		CustomerName:   "Asha",
		OrderID:        "ord_01HZX",
		RestaurantName: "Dosa Corner",
		Total:          27000,
		Currency:       "INR",
		CarrierRef:     "DTDC-7781",
		Reason:         "restaurant closed early",
		At:             time.Date(2026, 3, 14, 19, 5, 0, 0, ist),
	}
}

func TestRenderEveryKindInEveryLanguage(t *testing.T) {
	t.Parallel()
	ts := newTemplates(t)
	if got := ts.Languages(); len(got) < 3 || got[0] != "en" {
		t.Fatalf("Languages() = %v, want English first and at least two others", got)
	}
	for _, lang := range ts.Languages() {
		for _, kind := range Kinds() {
			for name, d := range map[string]Data{"full": fullData(), "bare": {OrderID: "ord_2"}} {
				t.Run(lang+"/"+kind+"/"+name, func(t *testing.T) {
					t.Parallel()
					m, err := ts.Render(kind, lang, d)
					if err != nil {
						t.Fatalf("Render: %v", err)
					}
					if m.Lang != lang {
						t.Errorf("Lang = %q, want %q", m.Lang, lang)
					}
					if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
						t.Errorf("Subject = %q, want one non-empty line", m.Subject)
					}
					for part, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
						if strings.Contains(s, "<no value>") || strings.Contains(s, "{{") {
							t.Errorf("%s has an unfilled placeholder:\n%s", part, s)
						}
					}
					for part, s := range map[string]string{"text": m.Text, "html": m.HTML} {
						if !strings.Contains(s, d.OrderID) {
							t.Errorf("%s does not name order %s:\n%s", part, d.OrderID, s)
						}
						if name == "full" && !strings.Contains(s, d.CustomerName) {
							t.Errorf("%s does not greet %s:\n%s", part, d.CustomerName, s)
						}
					}
					if !strings.Contains(m.HTML, `<html lang="`+lang+`">`) {
						t.Errorf("html does not declare lang %q:\n%s", lang, m.HTML)
					}
					if strings.Contains(m.Text, "\n\n\n") {
						t.Errorf("text has runs of blank lines:\n%s", m.Text)
					}
				})
			}
		}
	}
}

func TestRenderKindSpecificData(t *testing.T) {
	t.Parallel()
	ts := newTemplates(t)
	d := fullData()
	for _, lang := range ts.Languages() {
		for kind, want := range map[string]string{
			Accepted: formatMoney(d.Total, d.Currency, lang),
			Refunded: formatMoney(d.Total, d.Currency, lang),
			Shipped:  d.CarrierRef,
		} {
			m, err := ts.Render(kind, lang, d)
			if err != nil {
				t.Fatalf("Render(%s, %s): %v", kind, lang, err)
			}
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
				t.Errorf("%s/%s: text or html lacks %q:\n%s\n%s", lang, kind, want, m.Text, m.HTML)
			}
		}
		m, err := ts.Render(Cancelled, lang, d)
		if err != nil {
			t.Fatalf("Render(cancelled, %s): %v", lang, err)
		}
		if !strings.Contains(m.Text, d.Reason) || !strings.Contains(m.HTML, d.Reason) {
			t.Errorf("%s/cancelled: reason missing:\n%s", lang, m.Text)
		}
	}
}

func TestRenderEnglishText(t *testing.T) {
	t.Parallel()
	m, err := newTemplates(t).Render(Accepted, "en-IN", fullData())
	if err != nil {
		t.Fatal(err)
	}
	wantSubject := "Dosa Corner accepted your order ord_01HZX"
	wantText := `Hi Asha,

Dosa Corner has accepted your order and is preparing it.

Order: ord_01HZX
Restaurant: Dosa Corner
Time: 14 Mar 2026, 19:05 IST
Total: INR 270.00

--
tiffin. This e-mail was sent automatically about your order; there is no need to reply.
`
	if m.Subject != wantSubject {
		t.Errorf("Subject = %q, want %q", m.Subject, wantSubject)
	}
	if m.Text != wantText {
		t.Errorf("Text =\n%s\nwant\n%s", m.Text, wantText)
	}
}

func TestRenderLanguageMatching(t *testing.T) {
	t.Parallel()
	ts := newTemplates(t)
	for _, tc := range []struct{ tag, want string }{
		{"", "en"},
		{"en", "en"},
		{"en-GB", "en"},
		{"fr", "fr"},
		{"fr-CA", "fr"},
		{"FR-be", "fr"},
		{"hi", "hi"},
		{"hi-IN", "hi"},
		{"de-DE", "en"},
		{"ta", "en"},
		{"not a tag!", "en"},
	} {
		m, err := ts.Render(Delivered, tc.tag, Data{OrderID: "o1"})
		if err != nil {
			t.Fatalf("Render(%q): %v", tc.tag, err)
		}
		if m.Lang != tc.want {
			t.Errorf("Render(lang %q).Lang = %q, want %q", tc.tag, m.Lang, tc.want)
		}
	}
}

func TestRenderUnknownKind(t *testing.T) {
	t.Parallel()
	_, err := newTemplates(t).Render("exploded", "en", Data{})
	if !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v, want ErrUnknownKind", err)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	t.Parallel()
	d := fullData()
	d.CustomerName = `<script>alert("x")</script>`
	d.RestaurantName = "Tom & Jerry's\r\nBcc: victim@example.com"
	m, err := newTemplates(t).Render(Accepted, "en", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("html does not escape the customer's name:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "Tom &amp; Jerry&#39;s") {
		t.Errorf("html does not escape the restaurant's name:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, d.CustomerName) {
		t.Errorf("text should carry the name as written:\n%s", m.Text)
	}
	if want := "Tom & Jerry's Bcc: victim@example.com accepted your order ord_01HZX"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
}

func TestParseTemplatesRefusesMissingKinds(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"text/en.tmpl":     {Data: []byte(`{{define "accepted.subject"}}x{{end}}{{define "accepted.text"}}x{{end}}`)},
		"html/layout.tmpl": {Data: []byte(`{{define "open"}}{{end}}`)},
		"html/en.tmpl":     {Data: []byte(`{{define "accepted.html"}}x{{end}}`)},
	}
	if _, err := parseTemplates(fsys); err == nil || !strings.Contains(err.Error(), "courier_assigned") {
		t.Fatalf("err = %v, want one naming the missing courier_assigned", err)
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minor      int64
		code, lang string
		want       string
	}{
		{27000, "INR", "en", "INR 270.00"},
		{127050, "inr", "hi", "INR 1,270.50"},
		{123456789, "INR", "en", "INR 1,234,567.89"},
		{127050, "EUR", "fr", "1\u202f270,50\u00a0EUR"},
		{5, "INR", "en", "INR 0.05"},
		{-500, "INR", "en", "INR -5.00"},
		{500, "JPY", "en", "JPY 500"},
		{1234, "KWD", "en", "KWD 1.234"},
		{1234, "", "en", "12.34"},
		{0, "XYZ", "en", "XYZ 0.00"},
		{math.MinInt64, "USD", "en", "USD -92,233,720,368,547,758.08"},
	} {
		if got := formatMoney(tc.minor, tc.code, tc.lang); got != tc.want {
			t.Errorf("formatMoney(%d, %q, %q) = %q, want %q", tc.minor, tc.code, tc.lang, got, tc.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 9, 5, 0, 0, ist)
	for _, tc := range []struct {
		at         time.Time
		lang, want string
	}{
		{at, "en", "4 Mar 2026, 09:05 IST"},
		{at, "fr", "04/03/2026 09:05 IST"},
		{at, "hi", "04/03/2026, 09:05 IST"},
		{time.Time{}, "en", ""},
	} {
		if got := formatTime(tc.at, tc.lang); got != tc.want {
			t.Errorf("formatTime(%v, %q) = %q, want %q", tc.at, tc.lang, got, tc.want)
		}
	}
}
