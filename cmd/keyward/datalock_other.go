//go:build !unix

package main

import "errors"

var errDataDirBusy = errors.New("the data directory is locked by another keyward process")

// lockDataDir does not lock where flock is missing: restore then cannot
// tell a running server, and says so.
func lockDataDir(dir string, exclusive bool) (func(), error) {
	if exclusive {
		return nil, errors.New("restore needs flock, which this system lacks: stop the server and copy the file by hand")
	}
	return func() {}, nil
}
