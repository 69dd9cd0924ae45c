package httpapi

import (
	"strings"
	"testing"
)

// decodeTarget has fields of every JSON kind, nested, as request bodies do.
type decodeTarget struct {
	Name  string            `json:"name"`
	Count int64             `json:"count"`
	Small uint8             `json:"small"`
	Ratio float32           `json:"ratio"`
	On    *bool             `json:"on"`
	Raw   []byte            `json:"raw"`
	Tags  map[string]int    `json:"tags"`
	Items []struct{ Q int } `json:"items"`
	Fixed [2]string         `json:"fixed"`
}

// FuzzDecodeJSON: whatever the body, decodeJSON does not panic, and its errors are in
// client words: no Go type or package, no "json:" prefix, bounded by the field path's length.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","count":1}`, `{"count":"x"}`, `{"count":1e30}`, `{"small":300}`, `{"ratio":1e300}`,
		`{"on":"yes"}`, `{"raw":"!!"}`, `{"tags":{"a":"b"}}`, `{"items":[{"Q":"1"}]}`, `{"fixed":[1]}`,
		`[1,2]`, `"s"`, `{`, `{"name":`, `nul`, "\x00", `{"items":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v decodeTarget
		err := decodeJSON(body, &v)
		if err == nil {
			return
		}
		msg := err.Error()
		for _, leak := range []string{"Go ", "json:", "of type", "decodeTarget", "httpapi", "struct {"} {
			if strings.Contains(msg, leak) {
				t.Fatalf("error %q for %q contains %q", msg, body, leak)
			}
		}
		if len(msg) > len(body)+200 {
			t.Fatalf("error of %d bytes for a body of %d: %q", len(msg), len(body), msg)
		}
	})
}
