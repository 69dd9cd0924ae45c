package mailcatch

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		raw     string
		want    Caught
		wantErr bool
	}{{
		name: "alternative",
		raw:  alternative,
		want: Caught{
			Subject: "Votre commande ord_1 a été livrée", MessageID: "<ntf_1@tiffin>", OrderID: "ord_1", Event: "delivered",
			Text: "Bon appétit !\nLigne deux, très longue, coupée.", HTML: "<p>Bon appétit !</p>",
		},
	}, {
		name: "no content type is plain text",
		raw:  "Subject: hi\n\nline 1\nline 2\n",
		want: Caught{Subject: "hi", Text: "line 1\nline 2\n"},
	}, {
		name: "latin-1 body and encoded-word subject",
		raw:  "Subject: =?ISO-8859-1?Q?Caf=E9?=\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9\n",
		want: Caught{Subject: "Café", Text: "café\n"},
	}, {
		name: "windows-1252 word in a subject",
		raw:  "Subject: =?windows-1252?Q?=80_5?=\n\nx",
		want: Caught{Subject: "€ 5", Text: "x"},
	}, {
		name: "nested mixed with an attachment",
		raw: `Subject: n
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

t
--inner
Content-Type: text/html

<b>h</b>
--inner--
--outer
Content-Type: text/plain
Content-Disposition: attachment; filename=a.txt

not the body
--outer--
`,
		want: Caught{Subject: "n", Text: "t", HTML: "<b>h</b>"},
	}, {
		name:    "multipart without boundary",
		raw:     "Content-Type: multipart/alternative\n\nx\n",
		wantErr: true,
	}, {
		name:    "bad base64",
		raw:     "Content-Transfer-Encoding: base64\n\n!!!!\n",
		wantErr: true,
	}, {
		name:    "unknown transfer encoding",
		raw:     "Content-Transfer-Encoding: x-uuencode\n\nx\n",
		wantErr: true,
	}, {
		name:    "no header end",
		raw:     "Subject",
		wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(crlf(tc.raw))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parse: err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRefusesDeepNesting(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("Subject: deep\n")
	for i := range maxDepth + 1 {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\n\n--b" + string(rune('a'+i)) + "\n")
	}
	b.WriteString("Content-Type: text/plain\n\nx\n")
	if _, err := parse(crlf(b.String())); err == nil {
		t.Fatal("parse accepted nesting deeper than maxDepth")
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		alternative,
		"Subject: hi\n\nbody\n",
		"Subject: =?UTF-8?B?w6k=?=\nContent-Type: text/html; charset=windows-1252\n\n\x80\n",
		"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: multipart/alternative; boundary=y\n\n--y\n\nz\n--y--\n--x--\n",
		"Content-Transfer-Encoding: base64\n\naGk=\n",
		"\n",
	} {
		f.Add(crlf(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := parse(raw)
		if err != nil {
			return
		}
		for name, s := range map[string]string{
			"Subject": c.Subject, "MessageID": c.MessageID, "OrderID": c.OrderID, "Event": c.Event, "Text": c.Text, "HTML": c.HTML,
		} {
			if !utf8.ValidString(s) {
				t.Errorf("%s is not UTF-8: %q", name, s)
			}
		}
		if strings.Contains(c.Text, "\r\n") || strings.Contains(c.HTML, "\r\n") {
			t.Errorf("bodies keep CRLF: %q %q", c.Text, c.HTML)
		}
	})
}
