//go:build unix

package bus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockStore takes an exclusive lock on the embedded server's store directory, so that a second
// process (another server, or `tiffin dlq` while a server runs) cannot open the same JetStream
// files: nats-server does not guard its store itself, and two servers on one store corrupt it.
// The lock is a flock on dir/tiffin.lock, released by unlock or when the process dies.
func lockStore(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bus: store dir: %w", err)
	}
	path := filepath.Join(dir, "tiffin.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bus: lock store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := string(bytes.TrimSpace(holder)); pid != "" {
				return nil, fmt.Errorf("%w: %s is held by process %s", ErrStoreLocked, dir, pid)
			}
			return nil, fmt.Errorf("%w: %s is held by another process", ErrStoreLocked, dir)
		}
		return nil, fmt.Errorf("bus: lock store %s: %w", dir, err)
	}
	// Name the holder, for the message a second process prints.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
