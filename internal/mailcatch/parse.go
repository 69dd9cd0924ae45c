package mailcatch

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// Bounds on a message's MIME structure, beyond the size bound go-smtp enforces.
const (
	maxDepth = 8   // multipart nesting
	maxParts = 100 // parts in all
)

// parse reads an RFC 5322 message (outside input: any bytes) into a Caught without its
// envelope. A message whose header or MIME structure can't be read is an error; parts it has
// no use for (attachments, images) are skipped.
func parse(raw []byte) (Caught, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Caught{}, fmt.Errorf("read message: %w", err)
	}
	p := parser{budget: maxParts}
	p.c.Subject = decodeHeader(msg.Header.Get("Subject"))
	p.c.MessageID = decodeHeader(msg.Header.Get("Message-Id"))
	p.c.OrderID = decodeHeader(msg.Header.Get("X-Tiffin-Order"))
	p.c.Event = decodeHeader(msg.Header.Get("X-Tiffin-Event"))
	if err := p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return Caught{}, err
	}
	return p.c, nil
}

type parser struct {
	c                Caught
	budget           int // parts still allowed
	hasText, hasHTML bool
}

// walk reads one entity (the message or a part): a multipart's parts in turn, or a text body.
func (p *parser) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii" // RFC 2045 5.2
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil && mediaType == "" {
		return nil // unreadable type: skipped, like any type of no use here
	}
	if disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition")); disp == "attachment" {
		return nil
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxDepth {
			return errors.New("multipart nested too deep")
		}
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%s without a boundary", mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", mediaType, err)
			}
			if p.budget--; p.budget < 0 {
				return fmt.Errorf("more than %d parts", maxParts)
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	case mediaType == "text/plain" && !p.hasText:
		p.hasText = true
		p.c.Text, err = decodeBody(h, params["charset"], body)
		return err
	case mediaType == "text/html" && !p.hasHTML:
		p.hasHTML = true
		p.c.HTML, err = decodeBody(h, params["charset"], body)
		return err
	}
	return nil
}

// decodeBody undoes the part's transfer encoding and charset: UTF-8 with \n line ends.
func decodeBody(h textproto.MIMEHeader, charset string, body io.Reader) (string, error) {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	r := body
	switch cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("unknown transfer encoding %q", cte)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("decode %s body: %w", cte, err)
	}
	if cs := strings.ToLower(charset); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if enc, err := htmlindex.Get(cs); err == nil {
			if u, err := enc.NewDecoder().Bytes(b); err == nil {
				b = u
			}
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return lineEnds.Replace(s), nil
}

// lineEnds makes \n of CRLF and of a lone CR.
var lineEnds = strings.NewReplacer("\r\n", "\n", "\r", "\n")

var wordDecoder = &mime.WordDecoder{
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(input), nil
	},
}

// decodeHeader decodes RFC 2047 encoded words, leaving a value it can't decode as it is.
func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	return strings.TrimSpace(strings.ToValidUTF8(v, "\uFFFD"))
}
