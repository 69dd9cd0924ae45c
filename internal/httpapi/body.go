package httpapi

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// readBody is a request body under the edge's limits: at most MaxBodyBytes, and all of it
// within ReadTimeout of the request reaching the edge, however slowly it trickles in and
// whoever reads it (huma moves the connection's read deadline to 5 s after it starts reading a
// body; bodyWriter keeps it at the request's deadline). It records whether it was read to its
// end: a body left unread when the answer starts is closed without being drained (see
// bodyWriter).
type readBody struct {
	rc       *http.ResponseController
	deadline time.Time
	inner    io.ReadCloser
	// ended is set once the body was read to io.EOF, or when there was none; closed by Close.
	// Neither waits for a Read in flight: Close must cut a blocked Read off, not queue behind it.
	ended, closed atomic.Bool
}

func newReadBody(w http.ResponseWriter, r *http.Request, max int64, deadline time.Time) *readBody {
	b := &readBody{rc: http.NewResponseController(w), deadline: deadline}
	if r.Body == nil || r.Body == http.NoBody {
		b.inner = http.NoBody
		b.ended.Store(true)
		return b
	}
	b.inner = http.MaxBytesReader(w, r.Body, max)
	return b
}

// Read reads the body, noting its end.
func (b *readBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.inner.Read(p)
	if errors.Is(err, io.EOF) {
		b.ended.Store(true)
	}
	return n, err
}

// Close closes the body. One not read to its end is cut off at once: the connection's read
// deadline is moved to now first, so a Read in flight returns and net/http gives up on the
// body instead of reading (draining) the rest, which a client sending a byte at a time would
// make last for ever.
func (b *readBody) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	if !b.ended.Load() {
		b.rc.SetReadDeadline(time.Now())
	}
	return b.inner.Close()
}

// unread reports whether the body was neither read to its end nor absent.
func (b *readBody) unread() bool { return !b.ended.Load() }

// readDeadline is the read deadline to set for a handler that asks for t: t once the body has
// been read to its end (the connection is then idle until the next request, and net/http
// clears its deadline itself), otherwise no later than the request's deadline.
func (b *readBody) readDeadline(t time.Time) time.Time {
	if b.ended.Load() || (!t.IsZero() && t.Before(b.deadline)) {
		return t
	}
	return b.deadline
}

// bodyWriter is the ResponseWriter beside a readBody. When the answer starts (the first
// WriteHeader or Write, or the handler's return) with the body unread, it closes the body
// (without draining it) and asks for the connection to be closed after the answer: the
// client may still be sending, and what it sends is no request. It also keeps read deadlines
// that handlers set within the request's (readBody.readDeadline).
type bodyWriter struct {
	http.ResponseWriter
	body    *readBody
	started bool
}

func (w *bodyWriter) start() {
	if w.started {
		return
	}
	w.started = true
	if w.body.unread() {
		w.Header().Set("Connection", "close")
		w.body.Close()
	}
}

func (w *bodyWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx answers are interim: the body may follow them
		w.start()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bodyWriter) Write(p []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(p)
}

// SetReadDeadline is what huma (huma.SetReadDeadline) and http.ResponseController find first
// on the way to the connection: it keeps the deadline within the request's while the body is
// being read.
func (w *bodyWriter) SetReadDeadline(t time.Time) error {
	return w.body.rc.SetReadDeadline(w.body.readDeadline(t))
}

// Unwrap lets http.ResponseController reach the connection's writer (Flush, for SSE).
func (w *bodyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
