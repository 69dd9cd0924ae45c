package httpapi

import (
	"fmt"
	"math"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// huma echoes a rejected value in its error details, and encoding/json cannot encode NaN or
// ±Inf (which huma happily parses from "?lat=NaN"): the answer would be a 500 or a non-JSON
// body. huma's documented hook for error construction is the package variable NewError; the
// edge wraps it once, process-wide, so such values are shown as text. The wrapper is pure and
// idempotent, so installing it from every New is harmless.
var finiteOnce sync.Once

func installFiniteErrors() {
	finiteOnce.Do(func() {
		orig := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			for _, e := range errs {
				if d, ok := e.(*huma.ErrorDetail); ok {
					d.Value = finite(d.Value)
				}
			}
			return orig(status, msg, errs...)
		}
	})
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
