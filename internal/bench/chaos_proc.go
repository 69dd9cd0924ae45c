package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// replica is one tiffin process the chaos bench starts, kills with SIGKILL and restarts.
type replica struct {
	name string
	bin  string
	args []string
	addr string
	dir  string // where its logs go
	cmd  *exec.Cmd
	exit chan error
	runs int
	// running is whether a process is up (or starting): read by the load's goroutines while
	// the killer starts and kills, so it is the one field they share.
	running atomic.Bool
}

func newReplica(name, bin, dir string, args ...string) (*replica, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return &replica{name: name, bin: bin, dir: dir, addr: addr, args: append(args, "--addr", addr)}, nil
}

// URL is the replica's base URL.
func (r *replica) URL() string { return "http://" + r.addr }

// start runs the process (its output to <dir>/<name>-<run>.log) and waits until it serves,
// returning how long that took.
func (r *replica) start(ctx context.Context) (time.Duration, error) {
	r.runs++
	log, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", r.name, r.runs)))
	if err != nil {
		return 0, err
	}
	began := time.Now()
	cmd := exec.Command(r.bin, r.args...) // #nosec G204 -- the chaos bench runs its own executable with arguments it chose
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return 0, fmt.Errorf("start %s: %w", r.name, err)
	}
	r.cmd, r.exit = cmd, make(chan error, 1)
	r.running.Store(true)
	go func() { r.exit <- cmd.Wait(); log.Close() }()
	if err := waitServing(ctx, r.URL(), 60*time.Second, r.exit); err != nil {
		return 0, fmt.Errorf("%s (log %s): %w", r.name, log.Name(), err)
	}
	return time.Since(began), nil
}

// kill sends SIGKILL, as a crash or an OOM kill would, and waits for the process to go.
func (r *replica) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exit
	r.running.Store(false)
	r.cmd = nil
}

// stop asks the process to shut down cleanly (SIGTERM), killing it after 20 s.
func (r *replica) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exit:
	case <-time.After(20 * time.Second):
		r.kill()
	}
	r.running.Store(false)
	r.cmd = nil
}

// waitServing polls /readyz until it answers 200.
func waitServing(ctx context.Context, base string, timeout time.Duration, exited <-chan error) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving after %s", timeout)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before serving: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// natsServer is a JetStream server the bench runs in its own process, so replicas can be
// killed without the broker, and the broker restarted under them.
type natsServer struct {
	dir  string
	port int
	srv  *server.Server
}

func startNATS(dir string) (*natsServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	n := &natsServer{dir: dir, port: port}
	return n, n.start()
}

func (n *natsServer) start() error {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: n.port, JetStream: true, StoreDir: n.dir, NoSigs: true,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 8 << 30,
	})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("nats on port %d not ready", n.port)
	}
	n.srv = srv
	return nil
}

// URL is the server's client URL.
func (n *natsServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// stop shuts the server down.
func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}
