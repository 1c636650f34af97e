package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// AnswerTimeout bounds a client's check, in its New, that its runtime
// answers.
const AnswerTimeout = 3 * time.Second

// StatSocket checks that path, runtime's API socket, exists and is a unix
// socket, and returns its status. The error starts with "<runtime>: <path>: "
// and wraps ErrNoSocket when nothing is there; a file of another type is
// "not answering: not a unix socket (a regular file)".
func StatSocket(runtime, path string) (os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %s: %w", runtime, path, ErrNoSocket)
		}
		return nil, fmt.Errorf("%s: %s: %w", runtime, path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("%s: %s: not answering: not a unix socket (%s)", runtime, path, fileType(fi.Mode()))
	}
	return fi, nil
}

// CheckSocket is StatSocket without the status.
func CheckSocket(runtime, path string) error {
	_, err := StatSocket(runtime, path)
	return err
}

// CheckAnswers runs ping, a client's cheapest call to the runtime at socket,
// bounded by AnswerTimeout. Its error is "<runtime>: <socket>: not answering:
// ...", ending in "no answer within 3s" when the time ran out.
func CheckAnswers(runtime, socket string, ping func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), AnswerTimeout)
	defer cancel()
	if err := ping(ctx); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s", AnswerTimeout)
		}
		return fmt.Errorf("%s: %s: not answering: %w", runtime, socket, err)
	}
	return nil
}

// fileType names what a path that should be a socket is instead.
func fileType(m os.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case os.ModeDir:
		return "a directory"
	case os.ModeNamedPipe:
		return "a named pipe"
	case os.ModeDevice, os.ModeDevice | os.ModeCharDevice:
		return "a device"
	case os.ModeSymlink:
		return "a symbolic link"
	}
	return "mode " + m.Type().String()
}

// ShortID is the first 12 characters of a container id, as runtimes show it.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
