package stripefake

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of a request's parameters (Stripe's own are of the same order).
const (
	maxParams     = 256
	maxKeyLen     = 200
	maxValueLen   = 5000
	maxQueryLen   = 1000
	maxMetaKeyLen = 40
	maxMetaValLen = 500
)

// form is a request's parameters in Stripe's bracket notation: "amount", "metadata[order]",
// "payment_method_types[0]", "created[gte]". Every key is a name followed by at most one
// bracketed part, which is what the subset this server speaks needs.
type form struct {
	vals map[string]string
}

// parseForm decodes an application/x-www-form-urlencoded body or query string. A key given
// twice, a malformed key or an oversized one is an error, as are percent-escapes that don't
// decode and values that are not UTF-8.
func parseForm(raw string) (form, error) {
	f := form{vals: map[string]string{}}
	if raw == "" {
		return f, nil
	}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return form{}, fmt.Errorf("invalid parameter name %q", k)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return form{}, fmt.Errorf("invalid value of parameter %s", key)
		}
		if err := checkKey(key); err != nil {
			return form{}, err
		}
		if len(val) > maxValueLen || !utf8.ValidString(val) {
			return form{}, fmt.Errorf("invalid value of parameter %s", key)
		}
		if _, dup := f.vals[key]; dup {
			return form{}, fmt.Errorf("parameter %s given more than once", key)
		}
		if len(f.vals) == maxParams {
			return form{}, errors.New("too many parameters")
		}
		f.vals[key] = val
	}
	return f, nil
}

// checkKey accepts name or name[sub] where name is lowercase letters, digits and underscores
// and sub has no brackets.
func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen || !utf8.ValidString(key) {
		return fmt.Errorf("invalid parameter name %q", key)
	}
	name, sub, nested := strings.Cut(key, "[")
	if name == "" || strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) >= 0 {
		return fmt.Errorf("invalid parameter name %q", key)
	}
	if nested {
		inner, ok := strings.CutSuffix(sub, "]")
		if !ok || strings.ContainsAny(inner, "[]") {
			return fmt.Errorf("invalid parameter name %q", key)
		}
	}
	return nil
}

// name is the part of key before any bracket.
func name(key string) string {
	n, _, _ := strings.Cut(key, "[")
	return n
}

// unknown returns the first parameter (in sorted order) whose name is not in allowed.
func (f form) unknown(allowed ...string) (string, bool) {
	for _, k := range f.keys() {
		if !slices.Contains(allowed, name(k)) {
			return k, true
		}
	}
	return "", false
}

func (f form) keys() []string {
	ks := make([]string, 0, len(f.vals))
	for k := range f.vals {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// str is the value of key and whether it was given.
func (f form) str(key string) (string, bool) {
	v, ok := f.vals[key]
	return v, ok
}

// int is the integer value of key: missing is (0, false, nil); not an integer is an error.
func (f form) int(key string) (int64, bool, error) {
	v, ok := f.vals[key]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("invalid integer: %s", v)
	}
	return n, true, nil
}

// bool is the boolean value of key, false when missing.
func (f form) bool(key string) (bool, error) {
	v, ok := f.vals[key]
	if !ok {
		return false, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean: %s", v)
}

// hash collects the name[sub] parameters of name, e.g. metadata.
func (f form) hash(n string) map[string]string {
	out := map[string]string{}
	for k, v := range f.vals {
		if sub, ok := strings.CutPrefix(k, n+"["); ok {
			out[strings.TrimSuffix(sub, "]")] = v
		}
	}
	return out
}

// list collects name[0], name[1], ... (or name[]) in index order.
func (f form) list(n string) ([]string, error) {
	type item struct {
		i int
		v string
	}
	var items []item
	for k, v := range f.vals {
		sub, ok := strings.CutPrefix(k, n+"[")
		if !ok {
			continue
		}
		idx := strings.TrimSuffix(sub, "]")
		if idx == "" {
			items = append(items, item{len(items), v})
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= maxParams {
			return nil, fmt.Errorf("invalid array index in %s", k)
		}
		items = append(items, item{i, v})
	}
	slices.SortFunc(items, func(a, b item) int { return a.i - b.i })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out, nil
}

// canonical is the parameters in a fixed order, for comparing two requests' parameters.
func (f form) canonical() string {
	var b strings.Builder
	for i, k := range f.keys() {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.vals[k]))
	}
	return b.String()
}

// clause is one term of a search query: field:'value', or metadata['key']:'value'.
type clause struct {
	field string // "metadata" or a plain field such as "status"
	key   string // the metadata key, when field is "metadata"
	value string
}

// String writes c back in the query language, quoting with single quotes.
func (c clause) String() string {
	if c.field == "metadata" {
		return "metadata[" + quote(c.key) + "]:" + quote(c.value)
	}
	return c.field + ":" + quote(c.value)
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// parseQuery parses the subset of Stripe's search query language this server answers:
// clauses of exact matches on a field or a metadata key, joined by AND. Values are quoted
// with ' or "; a backslash escapes the next character.
func parseQuery(q string) ([]clause, error) {
	if len(q) > maxQueryLen {
		return nil, errors.New("query too long")
	}
	var out []clause
	rest := strings.TrimSpace(q)
	for {
		var c clause
		var err error
		if c, rest, err = parseClause(rest); err != nil {
			return nil, err
		}
		out = append(out, c)
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return out, nil
		}
		var ok bool
		if rest, ok = strings.CutPrefix(rest, "AND "); !ok {
			return nil, fmt.Errorf("unsupported query syntax at %q", rest)
		}
		rest = strings.TrimLeft(rest, " ")
	}
}

func parseClause(s string) (clause, string, error) {
	i := strings.IndexAny(s, "[:")
	if i <= 0 {
		return clause{}, "", fmt.Errorf("expected field:value at %q", s)
	}
	c := clause{field: s[:i]}
	if strings.IndexFunc(c.field, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '_') }) >= 0 {
		return clause{}, "", fmt.Errorf("invalid field %q", c.field)
	}
	s = s[i:]
	if s[0] == '[' {
		if c.field != "metadata" {
			return clause{}, "", fmt.Errorf("field %s has no keys", c.field)
		}
		var err error
		if c.key, s, err = unquote(s[1:]); err != nil {
			return clause{}, "", err
		}
		var ok bool
		if s, ok = strings.CutPrefix(s, "]"); !ok {
			return clause{}, "", errors.New("expected ] after the metadata key")
		}
	} else if c.field == "metadata" {
		return clause{}, "", errors.New("metadata needs a key: metadata['key']")
	}
	s, ok := strings.CutPrefix(s, ":")
	if !ok {
		return clause{}, "", fmt.Errorf("expected : after %s", c.field)
	}
	v, rest, err := unquote(s)
	if err != nil {
		return clause{}, "", err
	}
	c.value = v
	return c, rest, nil
}

// unquote reads a quoted string at the start of s and returns it and what follows.
func unquote(s string) (string, string, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", "", errors.New("expected a quoted value")
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '\\':
			return "", "", errors.New("unterminated escape")
		case c == q:
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted value")
}
