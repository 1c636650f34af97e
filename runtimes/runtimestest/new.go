package runtimestest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

// CheckNew runs, as subtests, the checks every client's New must pass on
// sockets that are not a runtime: missing (an error wrapping
// runtimes.ErrNoSocket that names the path), a regular file or a directory
// ("<runtime>: <path>: not answering: not a unix socket", at once), a
// socket that never answers ("not answering: no answer within 3s", after
// about runtimes.AnswerTimeout) and a socket nobody listens on ("not answering",
// within a second). newClient is the client's New.
func CheckNew[C io.Closer](t *testing.T, runtime string, newClient func(socket string) (C, error)) {
	// fails checks that New(path) fails, and returns its error.
	fails := func(t *testing.T, path string) error {
		t.Helper()
		c, err := newClient(path)
		if err == nil {
			c.Close()
			t.Fatalf("New(%s) succeeded", path)
		}
		return err
	}
	// notAnswering checks that New(path) fails in at most max with
	// "<runtime>: <path>: not answering", plus more.
	notAnswering := func(t *testing.T, path, more string, max time.Duration) {
		t.Helper()
		start := time.Now()
		err := fails(t, path)
		if errors.Is(err, runtimes.ErrNoSocket) {
			t.Errorf("error %q wraps ErrNoSocket, but the file exists", err)
		}
		want := runtime + ": " + path + ": not answering" + more
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q, want it to start with %q", err, want)
		}
		if d := time.Since(start); d > max {
			t.Errorf("New took %s, want at most %s", d, max)
		}
	}

	t.Run("missing", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "nothing.sock")
		err := fails(t, sock)
		if !errors.Is(err, runtimes.ErrNoSocket) {
			t.Fatalf("error %q does not wrap ErrNoSocket", err)
		}
		if !strings.Contains(err.Error(), sock) {
			t.Errorf("error %q does not name the socket", err)
		}
	})
	t.Run("regular file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("not a socket"), 0o600); err != nil {
			t.Fatal(err)
		}
		notAnswering(t, file, ": not a unix socket (a regular file)", time.Second)
	})
	t.Run("directory", func(t *testing.T) {
		notAnswering(t, t.TempDir(), ": not a unix socket (a directory)", time.Second)
	})
	// A socket that takes connections but never answers must fail after
	// the answer timeout, not hang.
	t.Run("silent socket", func(t *testing.T) {
		notAnswering(t, SilentSocket(t), ": no answer within "+runtimes.AnswerTimeout.String(), runtimes.AnswerTimeout+2*time.Second)
	})
	// A socket file nobody listens on (the daemon died) is "not
	// answering", not "not found", and fails fast.
	t.Run("stale socket", func(t *testing.T) {
		notAnswering(t, StaleSocket(t), ": ", time.Second)
	})
}
