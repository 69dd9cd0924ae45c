package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/language"
)

// The event kinds a customer hears about by e-mail.
const (
	Accepted        = "accepted"         // the restaurant accepted the order
	CourierAssigned = "courier_assigned" // a courier is on the way to the restaurant
	PickedUp        = "picked_up"        // the courier has the food
	Delivered       = "delivered"        // the food reached the customer
	Shipped         = "shipped"          // handed to an outside carrier; Data.CarrierRef tracks it
	Refunded        = "refunded"         // money given back; Data.Total is the amount refunded
	Cancelled       = "cancelled"        // the order was cancelled; Data.Reason says why
)

// Kinds returns every kind Render knows.
func Kinds() []string {
	return []string{Accepted, CourierAssigned, PickedUp, Delivered, Shipped, Refunded, Cancelled}
}

// ErrUnknownKind is Render asked for a kind it has no template for.
var ErrUnknownKind = errors.New("unknown notification kind")

// Data is what a message says. Empty fields are left out of the message where the text
// allows (no greeting by name, no reason, no carrier reference, no time).
type Data struct {
	CustomerName   string
	OrderID        string
	RestaurantName string
	Total          int64  // in the currency's minor units (paise, cents)
	Currency       string // ISO 4217 code, e.g. "INR"
	CarrierRef     string // the outside carrier's tracking reference (Shipped)
	Reason         string // why (Cancelled, Refunded)
	At             time.Time
}

// Message is a rendered e-mail.
type Message struct {
	Subject string
	Text    string
	HTML    string
	Lang    string // the language rendered, e.g. "fr": for a Content-Language header
}

//go:embed templates
var templateFS embed.FS

// Templates renders messages. It is safe for concurrent use.
type Templates struct {
	langs   []language.Tag // langs[0] is English, the fallback
	matcher language.Matcher
	text    []*texttemplate.Template // by index in langs
	html    []*htmltemplate.Template
}

// NewTemplates parses the embedded templates and checks that every language has every kind.
func NewTemplates() (*Templates, error) {
	sub, err := fs.Sub(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	return parseTemplates(sub)
}

// parseTemplates reads text/<tag>.tmpl and html/<tag>.tmpl (plus html/layout.tmpl, shared)
// for each language from fsys.
func parseTemplates(fsys fs.FS) (*Templates, error) {
	names, err := fs.Glob(fsys, "text/*.tmpl")
	if err != nil {
		return nil, err
	}
	t := new(Templates)
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".tmpl")
		tag, err := language.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("email templates: %s: not named for a language: %w", name, err)
		}
		txt, err := texttemplate.New(base).ParseFS(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("email templates: %w", err)
		}
		html, err := htmltemplate.New(base).ParseFS(fsys, "html/layout.tmpl", "html/"+base+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("email templates: %w", err)
		}
		for _, kind := range Kinds() {
			for _, want := range []string{kind + ".subject", kind + ".text"} {
				if txt.Lookup(want) == nil {
					return nil, fmt.Errorf("email templates: %s defines no %q", name, want)
				}
			}
			if html.Lookup(kind+".html") == nil {
				return nil, fmt.Errorf("email templates: html/%s.tmpl defines no %q", base, kind+".html")
			}
		}
		if tag == language.English {
			t.langs = slices.Insert(t.langs, 0, tag)
			t.text = slices.Insert(t.text, 0, txt)
			t.html = slices.Insert(t.html, 0, html)
			continue
		}
		t.langs = append(t.langs, tag)
		t.text = append(t.text, txt)
		t.html = append(t.html, html)
	}
	if len(t.langs) == 0 || t.langs[0] != language.English {
		return nil, errors.New("email templates: no English (text/en.tmpl), the fallback")
	}
	t.matcher = language.NewMatcher(t.langs)
	return t, nil
}

// Languages returns the languages the templates speak, English first.
func (t *Templates) Languages() []string {
	out := make([]string, len(t.langs))
	for i, tag := range t.langs {
		out[i] = tag.String()
	}
	return out
}

// Render renders kind's message in the language closest to lang, a BCP 47 tag ("fr-CA",
// "hi-IN"); an empty, malformed or unmatched tag renders English.
func (t *Templates) Render(kind, lang string, d Data) (Message, error) {
	if !slices.Contains(Kinds(), kind) {
		return Message{}, fmt.Errorf("render %q: %w", kind, ErrUnknownKind)
	}
	i := t.match(lang)
	v := view{Data: d, Lang: t.langs[i].String()}

	var b bytes.Buffer
	if err := t.text[i].ExecuteTemplate(&b, kind+".subject", v); err != nil {
		return Message{}, fmt.Errorf("render %s subject (%s): %w", kind, v.Lang, err)
	}
	v.Subject = strings.Join(strings.Fields(b.String()), " ") // one line, whatever the data held
	b.Reset()
	if err := t.text[i].ExecuteTemplate(&b, kind+".text", v); err != nil {
		return Message{}, fmt.Errorf("render %s text (%s): %w", kind, v.Lang, err)
	}
	text := strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := t.html[i].ExecuteTemplate(&b, kind+".html", v); err != nil {
		return Message{}, fmt.Errorf("render %s html (%s): %w", kind, v.Lang, err)
	}
	return Message{Subject: v.Subject, Text: text, HTML: b.String(), Lang: v.Lang}, nil
}

// match returns the index in t.langs of the language to render for tag; 0 (English) when
// none fits.
func (t *Templates) match(tag string) int {
	if tag == "" {
		return 0
	}
	parsed, err := language.Parse(tag)
	if err != nil {
		return 0
	}
	_, i, conf := t.matcher.Match(parsed)
	if conf == language.No {
		return 0
	}
	return i
}

// view is what the templates see: the data, plus the language and the rendered subject (for
// the HTML title), and the data formatted for that language.
type view struct {
	Data
	Lang    string
	Subject string
}

// Amount is Total in Currency, formatted for the language: "INR 1,270.50", "1 270,50 EUR".
func (v view) Amount() string { return formatMoney(v.Total, v.Currency, v.Lang) }

// When is At formatted for the language, or "" when At is zero.
func (v view) When() string { return formatTime(v.At, v.Lang) }
