package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// thingInput is a body with fields of every kind, for the validation and decoding tests.
type thingInput struct {
	Body struct {
		Name  string `json:"name" maxLength:"10"`
		Count int    `json:"count" minimum:"1" maximum:"100"`
		Items []struct {
			Qty int `json:"qty" minimum:"1"`
		} `json:"items,omitempty"`
	}
}

// edge is a server with one customer route taking thingInput at POST /v1/things.
type edge struct {
	*httptest.Server
	keys     *auth.Keys
	customer string
	ops      string
}

func newEdge(t *testing.T, cfg httpapi.Config) *edge {
	t.Helper()
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys = keys
	srv := httpapi.New(cfg)
	httpapi.Handle(srv, huma.Operation{OperationID: "put-thing", Method: "POST", Path: "/v1/things", Summary: "put a thing"},
		[]auth.Role{auth.Customer}, func(ctx context.Context, _ auth.Principal, in *thingInput) (*pointOutput, error) {
			return &pointOutput{}, nil
		})
	httpapi.Handle(srv, huma.Operation{OperationID: "get-thing", Method: "GET", Path: "/v1/things/{id}", Summary: "get a thing"},
		httpapi.Public, func(ctx context.Context, _ auth.Principal, in *struct {
			ID string `path:"id"`
		}) (*pointOutput, error) {
			return &pointOutput{}, nil
		})
	e := &edge{Server: httptest.NewServer(srv.Handler()), keys: keys}
	t.Cleanup(e.Close)
	e.customer, _ = keys.Issue(auth.Principal{Subject: "c", Role: auth.Customer}, time.Hour)
	e.ops, _ = keys.Issue(auth.Principal{Subject: "o", Role: auth.Ops}, time.Hour)
	return e
}

func (e *edge) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// fill repeats unit after head until the body is nearly size bytes, then closes it with tail.
func fill(head, unit, tail string, size int) string {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len()+len(unit)+len(tail)+16 < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, unit, i)
	}
	b.WriteString(tail)
	return b.String()
}

// TestProblemsBounded: bodies just under the 1 MiB limit, full of unknown properties (short
// names and 10 KB names), invalid array items, wrong kinds and broken JSON, are answered with
// under 64 KB: at most 20 errors, the total in the detail, locations and values clipped, no
// object, array or body quoted back.
func TestProblemsBounded(t *testing.T) {
	t.Parallel()
	e := newEdge(t, httpapi.Config{})
	const size = 1<<20 - 1024
	long := strings.Repeat("k", 10_000)
	tests := []struct {
		name, body string
		status     int
		many       bool // more errors than a problem lists
	}{
		{"unknown properties", fill(`{"name":"a","count":1,`, `"p%d":1`, `}`, size), 422, true},
		{"long unknown properties", fill(`{"name":"a","count":1,`, `"`+long+`%d":[1,2,3]`, `}`, size), 422, true},
		{"invalid items", fill(`{"name":"a","count":1,"items":[`, `{"qty":-%d,"x":{"y":[1]}}`, `]}`, size), 422, true},
		{"wrong kinds", fill(`{"name":"`+strings.Repeat("n", 500_000)+`","count":"many","items":[`, `"i%d"`, `]}`, size), 422, true},
		{"top-level array", fill(`[`, `{"p%d":1}`, `]`, size), 422, false},
		{"malformed", fill(`{"name":"a","items":[`, `{"qty":%d}`, ``, size), 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, "POST", "/v1/things", e.customer, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("got %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			if len(body) >= 64<<10 {
				t.Fatalf("answer of %d bytes to a body of %d, want under 64 KB", len(body), len(tt.body))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q, want application/problem+json", ct)
			}
			var p huma.ErrorModel
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if len(p.Errors) == 0 || len(p.Errors) > 20 {
				t.Errorf("%d errors listed, want 1 to 20", len(p.Errors))
			}
			if tt.many && !strings.Contains(p.Detail, "the first 20 listed") {
				t.Errorf("detail %q does not say how many errors there were", p.Detail)
			}
			for _, d := range p.Errors {
				if d.Location == "" || len(d.Location) > 200+len("…") {
					t.Errorf("location %.80q (%d bytes): want one naming the field, at most 200 bytes", d.Location, len(d.Location))
				}
				switch v := d.Value.(type) {
				case map[string]any, []any:
					t.Errorf("%s: value %.80v quoted back, want no objects or arrays", d.Location, v)
				case string:
					if len(v) > 64+len("…") {
						t.Errorf("%s: value of %d bytes quoted back, want at most 64", d.Location, len(v))
					}
				}
			}
		})
	}
}

// TestDecodeErrorsClientWords: a value that passes the schema but not Go's decoding (an
// integer out of range) is refused naming the field in JSON's words, never a Go type.
func TestDecodeErrorsClientWords(t *testing.T) {
	t.Parallel()
	e := newEdge(t, httpapi.Config{})
	for _, body := range []string{
		`{"name":"a","count":1,"items":[{"qty":1e30}]}`,
		`{"name":"a","count":1,"items":[{"qty":99999999999999999999}]}`,
	} {
		resp, b := e.do(t, "POST", "/v1/things", e.customer, body)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s: got %d, want a 4xx", body, resp.StatusCode)
		}
		for _, leak := range []string{"Go struct", "Go value", "of type", "json:", "thingInput"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("%s: answer %s contains %q", body, b, leak)
			}
		}
		if !strings.Contains(string(b), "items.qty") {
			t.Errorf("%s: answer %s does not name items.qty", body, b)
		}
	}
}

// TestMuxProblems: the router's own answers, for a path no route takes and a method a path
// does not take, are problem+json like every other error; a route's own 404 is untouched.
func TestMuxProblems(t *testing.T) {
	t.Parallel()
	e := newEdge(t, httpapi.Config{})
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nowhere", 404, ""},
		{"POST", "/v1/nowhere/at/all", 404, ""},
		{"DELETE", "/v1/things", 405, "POST"},
		{"PUT", "/healthz", 405, "GET, HEAD"},
	} {
		resp, b := e.do(t, tt.method, tt.path, "", "")
		var p huma.ErrorModel
		err := json.Unmarshal(b, &p)
		if resp.StatusCode != tt.status || err != nil || p.Status != tt.status || p.Detail == "" {
			t.Errorf("%s %s: got %d %s, want a %d problem", tt.method, tt.path, resp.StatusCode, b, tt.status)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: content type %q, want application/problem+json", tt.method, tt.path, ct)
		}
		if got := resp.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

// TestMetrics: /metrics answers ops tokens only; a request is labelled with the pattern of its
// route, an unmatched one "unmatched"; 3,000 invented methods add one "other" series, not 3,000.
func TestMetrics(t *testing.T) {
	t.Parallel()
	// 3,000 requests from one address in a moment are what the rate limits are for; this test
	// is about labels.
	e := newEdge(t, httpapi.Config{Limits: httpapi.Limits{Off: true}})
	for _, tt := range []struct {
		token  string
		status int
	}{{"", 401}, {"not-a-token", 401}, {e.customer, 403}, {e.ops, 200}} {
		if resp, b := e.do(t, "GET", "/metrics", tt.token, ""); resp.StatusCode != tt.status {
			t.Errorf("/metrics with token %.10q: got %d %.200s, want %d", tt.token, resp.StatusCode, b, tt.status)
		}
	}
	e.do(t, "GET", "/v1/things/t-1", "", "")
	e.do(t, "GET", "/v1/things/t-2", "", "")
	e.do(t, "GET", "/nowhere", "", "")
	_, before := e.do(t, "GET", "/metrics", e.ops, "")
	for i := range 3000 {
		e.do(t, fmt.Sprintf("X-INVENTED-%d", i), "/v1/things/t-1", "", "")
	}
	_, after := e.do(t, "GET", "/metrics", e.ops, "")
	if grown := len(after) - len(before); grown > 8<<10 {
		t.Errorf("3,000 invented methods grew the scrape by %d bytes (%d -> %d), want a few series", grown, len(before), len(after))
	}
	for _, want := range []string{
		`tiffin_http_requests_total{code="200",method="GET",route="/v1/things/{id}"} 2`,
		`tiffin_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`tiffin_http_requests_total{code="405",method="other",route="unmatched"} 3000`,
	} {
		if !strings.Contains(string(after), want) {
			t.Errorf("scrape lacks %s:\n%s", want, grepLines(string(after), "tiffin_http_requests_total"))
		}
	}
	if strings.Contains(string(after), "X-INVENTED") {
		t.Error("an invented method is a label value")
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// rawRequest opens a connection to ts and sends a request's head declaring a body of
// declared bytes, and the first byte of it.
func rawRequest(t *testing.T, addr, method, path, token string, declared int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: tiffin\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, declared)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n{"); err != nil {
		t.Fatal(err)
	}
	return c
}

// answeredAndClosed reads c's answer and wants the connection closed after it within wait,
// while trickle sends a byte of the body every 50ms.
func answeredAndClosed(t *testing.T, c net.Conn, wait time.Duration) *http.Response {
	t.Helper()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", wait, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed within %v after the answer: %v", wait, err)
	}
	return resp
}

// TestUnreadBodyClosed: a request whose body the edge does not read (refused before it: no
// token, no route) is answered at once and its connection closed, not kept open to drain a
// body that trickles in.
func TestUnreadBodyClosed(t *testing.T) {
	t.Parallel()
	e := newEdge(t, httpapi.Config{ReadTimeout: time.Hour}) // no deadline helps here
	addr := e.Listener.Addr().String()
	for _, tt := range []struct {
		method, path, token string
		status              int
	}{
		{"POST", "/v1/things", "", 401},
		{"POST", "/v1/things", "not-a-token", 401},
		{"POST", "/nowhere", "", 404},
		{"GET", "/v1/things/t-1", "", 200},
	} {
		start := time.Now()
		resp := answeredAndClosed(t, rawRequest(t, addr, tt.method, tt.path, tt.token, 10_000), 2*time.Second)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s %s: answered and closed after %v, want at once", tt.method, tt.path, took)
		}
	}
}

// TestSlowBodyCutOff: a body still trickling in ReadTimeout after the request came is cut off
// (408) and its connection closed, although huma gives itself 5 s to read a body.
func TestSlowBodyCutOff(t *testing.T) {
	t.Parallel()
	e := newEdge(t, httpapi.Config{ReadTimeout: 500 * time.Millisecond})
	start := time.Now()
	resp := answeredAndClosed(t, rawRequest(t, e.Listener.Addr().String(), "POST", "/v1/things", e.customer, 10_000), 3*time.Second)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("got %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 2*time.Second {
		t.Errorf("cut off after %v, want about the 500ms ReadTimeout", took)
	}
}
