package dlq

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPreview(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		data string
		want string
	}{
		{"short", `{"a":1}`, `{"a":1}`},
		{"exactly the limit", strings.Repeat("x", PreviewBytes), strings.Repeat("x", PreviewBytes)},
		{"over the limit", strings.Repeat("x", PreviewBytes+1), strings.Repeat("x", PreviewBytes) + "…"},
		{"cut inside a character", "x" + strings.Repeat("é", PreviewBytes), "x" + strings.Repeat("é", (PreviewBytes-1)/2) + "…"},
		{"not UTF-8", "a\xffb", "a\uFFFDb"},
		{"empty", "", ""},
	} {
		got := preview([]byte(tt.data))
		if got != tt.want {
			t.Errorf("%s: preview = %q, want %q", tt.name, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: preview %q is not UTF-8", tt.name, got)
		}
	}
}
