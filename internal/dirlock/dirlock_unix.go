//go:build unix

package dirlock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Lock takes an exclusive lock on dir (creating it), held until unlock is called or the
// process ends. If another process holds it, the error wraps ErrLocked and names that
// process's pid.
func Lock(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the lock file in the data directory the operator names
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path) // #nosec G304 -- the lock file in the data directory the operator names
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := string(bytes.TrimSpace(holder)); pid != "" {
				return nil, fmt.Errorf("%s is %w: process %s holds it", dir, ErrLocked, pid)
			}
			return nil, fmt.Errorf("%s is %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	// Name the holder, for the message a second process prints.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
