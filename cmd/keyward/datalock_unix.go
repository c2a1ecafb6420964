//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// errDataDirBusy is lockDataDir's answer when another process holds the
// lock in a mode that excludes the one asked for.
var errDataDirBusy = errors.New("the data directory is locked by another keyward process")

// lockDataDir locks <dir>/keyward.lock without waiting: shared while a
// server uses the SQLite database (any number of them), exclusive while
// restore replaces it (nobody else). The lock ends with the process, or
// with the function returned.
func lockDataDir(dir string, exclusive bool) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "keyward.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDataDirBusy
		}
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	return func() { f.Close() }, nil
}
