package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtpserver "github.com/emersion/go-smtp"
)

// refuser is an SMTP backend that answers RCPT TO and the end of DATA as told, and offers
// AUTH PLAIN for user/pass once the connection is encrypted.
type refuser struct {
	rcptErr, dataErr error
	user, pass       string

	mu        sync.Mutex
	authed    []string
	delivered int
}

// seen returns who authenticated and how many messages were delivered.
func (b *refuser) seen() (authed []string, delivered int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.authed...), b.delivered
}

func (b *refuser) NewSession(*smtpserver.Conn) (smtpserver.Session, error) {
	return &refuserSession{b}, nil
}

type refuserSession struct{ b *refuser }

func (s *refuserSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *refuserSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return smtpserver.ErrAuthFailed
		}
		s.b.mu.Lock()
		s.b.authed = append(s.b.authed, user)
		s.b.mu.Unlock()
		return nil
	}), nil
}
func (s *refuserSession) Mail(string, *smtpserver.MailOptions) error { return nil }
func (s *refuserSession) Rcpt(string, *smtpserver.RcptOptions) error { return s.b.rcptErr }
func (s *refuserSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if s.b.dataErr == nil {
		s.b.mu.Lock()
		s.b.delivered++
		s.b.mu.Unlock()
	}
	return s.b.dataErr
}
func (s *refuserSession) Reset()        {}
func (s *refuserSession) Logout() error { return nil }

// serve runs b on a free port, with TLS from the first byte when implicit, or offering
// STARTTLS when tlsConf is set.
func serve(tb testing.TB, b smtpserver.Backend, tlsConf *tls.Config, implicit bool) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := smtpserver.NewServer(b)
	srv.Domain = "test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = tlsConf
	if implicit {
		ln = tls.NewListener(ln, tlsConf)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func smtpErr(code int) error {
	return &smtpserver.SMTPError{Code: code, EnhancedCode: smtpserver.EnhancedCodeNotSet, Message: "no"}
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client config that trusts it.
func selfSigned(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}
