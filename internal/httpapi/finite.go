package httpapi

import (
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// huma echoes a rejected value in its error details, and encoding/json cannot encode NaN or
// ±Inf (which huma happily parses from "?lat=NaN"): the answer would be a 500 or a non-JSON
// body. huma's documented hook for error construction is the package variable NewError; the
// edge wraps it once, process-wide, so such values are shown as text, and long strings (a
// query parameter over its maxLength, say) are clipped (shown). The wrapper is pure and
// idempotent, so installing it from every New is harmless.
var finiteOnce sync.Once

func installFiniteErrors() {
	finiteOnce.Do(func() {
		orig := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			for _, e := range errs {
				if d, ok := e.(*huma.ErrorDetail); ok {
					d.Value = shown(d.Value)
				}
			}
			return orig(status, msg, errs...)
		}
	})
}

// maxShown bounds, in bytes, a rejected string quoted back in an error detail: whoever sent a
// long value gets its start back, never the whole of it.
const maxShown = 64

// shown is v as an error detail quotes it: finite, and a string longer than maxShown cut to
// its first maxShown bytes (on a character boundary) followed by "…".
func shown(v any) any {
	if s, ok := v.(string); ok && len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return finite(v)
}

func finite(v any) any {
	switch f := v.(type) {
	case float64:
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(f)
		}
	case float32:
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Sprint(f)
		}
	}
	return v
}
