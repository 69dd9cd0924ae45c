package app_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// syncBuffer is a bytes.Buffer safe for the app's goroutines to log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartupLineSaysWhereThingsAre: the line a newcomer reads names the API, its reference,
// the metrics, the dev signing key and how to mint a token with it.
func TestStartupLineSaysWhereThingsAre(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	data := t.TempDir()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.DataDir = data
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "tiffin is serving") {
			line = l
		}
	}
	for _, want := range []string{
		"url=" + a.URL, "api=" + a.URL + "/v1", "docs=" + a.URL + "/v1/docs", "metrics=" + a.URL + "/metrics",
		"signing_key=" + filepath.Join(data, auth.KeyFile), `token="tiffin token --data ` + data + ` --role ops --subject ops-1"`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("startup line %q lacks %s", line, want)
		}
	}
}
