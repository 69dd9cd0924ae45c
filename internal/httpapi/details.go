package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// A problem answer is bounded whatever the request: huma lists one error per rejected value
// and, left alone, quotes with each the value at its location (for an unexpected property, the
// whole object around it), so a body of 45 KB with 400 unknown properties was answered with
// 17.8 MB. Every problem the edge writes goes through huma's documented hook for building
// errors, the package variable NewError; the edge wraps it once, process-wide, with bounded.
// The wrapper is pure and idempotent, so installing it from every New is harmless.
var boundOnce sync.Once

func installBoundedErrors() {
	boundOnce.Do(func() {
		orig := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			msg, details := bounded(status, msg, errs)
			return orig(status, msg, details...)
		}
	})
}

// Bounds of one problem answer: at most maxDetails errors (the detail says how many there
// were), each with a location of at most maxLocation bytes, a message of at most maxMessage
// bytes and a quoted value of at most maxShown bytes. 20 errors of a few hundred bytes each
// keep any answer within a few kilobytes.
const (
	maxDetails  = 20
	maxLocation = 200
	maxMessage  = 300
	maxShown    = 64
)

// bounded returns the detail and the errors a problem lists: the first maxDetails, each
// clipped (details), with msg saying how many there were when some are left out. A server
// error (5xx) lists none: its errors are causes, which belong in the logs.
func bounded(status int, msg string, errs []error) (string, []error) {
	if status >= http.StatusInternalServerError {
		return msg, nil
	}
	var out []error
	n := 0
	for _, e := range errs {
		if e == nil {
			continue
		}
		n++
		if len(out) < maxDetails {
			out = append(out, detail(e))
		}
	}
	if n > maxDetails {
		msg = fmt.Sprintf("%s: %d errors, the first %d listed", msg, n, maxDetails)
	}
	return msg, out
}

// detail is e as a problem lists it: a copy with its location, message and value clipped; the
// value is left out when it is the whole body or not a single scalar (an object or an array
// would repeat what the client sent, the location names it).
func detail(e error) *huma.ErrorDetail {
	d := &huma.ErrorDetail{}
	if de, ok := e.(huma.ErrorDetailer); ok && de.ErrorDetail() != nil {
		*d = *de.ErrorDetail()
	} else {
		d.Message = e.Error() // not a detail's Error(), which formats its whole value
	}
	d.Location = clip(d.Location, maxLocation)
	d.Message = clip(d.Message, maxMessage)
	if d.Location == "body" {
		d.Value = nil
	} else {
		d.Value = shown(d.Value)
	}
	return d
}

// shown is v as an error detail quotes it: a string cut to maxShown bytes, a finite number or
// a boolean as it is, NaN and ±Inf as text (encoding/json cannot encode them), and anything
// else (objects, arrays, structs) left out.
func shown(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return clip(x, maxShown)
	case bool:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
		return x
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v
	}
	return nil
}

// clip cuts s to its first max bytes (on a character boundary) followed by "…" when longer;
// whoever sent a long value gets its start back, never the whole of it.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
