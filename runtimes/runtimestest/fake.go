package runtimestest

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
	"google.golang.org/grpc"
)

// Listen listens on a unix socket named name in a temporary directory of
// the test, closed at its end, and returns the socket's path.
func Listen(t testing.TB, name string) (string, net.Listener) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), name)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return sock, l
}

// ServeHTTP serves h on a unix socket named name until the test ends and
// returns the socket's path.
func ServeHTTP(t testing.TB, name string, h http.Handler) string {
	t.Helper()
	sock, l := Listen(t, name)
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// ServeGRPC serves the gRPC services register registers on a unix socket
// named name until the test ends and returns the socket's path.
func ServeGRPC(t testing.TB, name string, register func(*grpc.Server)) string {
	t.Helper()
	sock, l := Listen(t, name)
	s := grpc.NewServer()
	register(s)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return sock
}

// SilentSocket is a unix socket that takes connections and holds them
// without a word, until the test ends.
func SilentSocket(t testing.TB) string {
	t.Helper()
	sock, l := Listen(t, "silent.sock")
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // hold it, say nothing
		}
	}()
	return sock
}

// StaleSocket is a socket file nobody listens on, as a daemon that died
// leaves it.
func StaleSocket(t testing.TB) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	return sock
}

// List checks that c is the client of runtime and returns what its
// Containers lists, within 10 seconds, failing the test on error.
func List(t testing.TB, c runtimes.Client, runtime string) []runtimes.Container {
	t.Helper()
	if c.Name() != runtime {
		t.Errorf("Name() = %q, want %q", c.Name(), runtime)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
