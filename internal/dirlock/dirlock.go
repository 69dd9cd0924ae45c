// Package dirlock gives one process at a time a directory: an exclusive flock on a lock file in
// it, naming the holder's pid for the message a second process prints, released by the unlock
// function or when the process ends, however it ends.
package dirlock

import "errors"

// ErrLocked is returned by Lock when another process holds the directory.
var ErrLocked = errors.New("in use by another process")

// FileName is the lock file inside a locked directory.
const FileName = "tiffin.lock"
