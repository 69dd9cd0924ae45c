package stripefake

import (
	"net"
	"net/http"
)

// FaultKind is a way of failing.
type FaultKind int

// The faults. "After" faults act first, so the client cannot tell them from "before" faults
// without asking.
const (
	// FailBefore answers 500 without acting; nothing is kept under the idempotency key.
	FailBefore FaultKind = iota + 1
	// FailAfter acts, then answers 500, and keeps that 500 under the idempotency key (Stripe
	// keeps whatever an endpoint that began executing answered).
	FailAfter
	// HangAfter acts, keeps the true answer under the key, and sends nothing until the client
	// gives up (or HangLimit, or Close).
	HangAfter
	// ResetAfter acts, keeps the true answer under the key, and resets the connection.
	ResetAfter
	// ResetBefore resets the connection without acting.
	ResetBefore
)

// Fault is one failure to inject.
type Fault struct {
	Kind FaultKind
	// Op limits the fault to one endpoint; empty matches every request.
	Op Op
}

// Fail makes the next n requests that match f.Op fail as f.Kind says.
func (s *Server) Fail(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetFailureRate changes Config.FailureRate: 0 stops the random failures.
func (s *Server) SetFailureRate(r float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.FailureRate = r
}

// Recover drops the faults not yet used.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(op Op) FaultKind {
	for i, f := range s.faults {
		if f.Op == "" || f.Op == op {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return f.Kind
		}
	}
	return 0
}

// reset closes the client's connection abruptly (RST where the platform allows).
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // the server drops the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}
