package workloads

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ig-tracer/ig/tracers/packettest"
)

func init() { Table["trace sni"] = traceSNI }

// sniEvent has the fields of trace sni the workload checks.
type sniEvent struct {
	Name string `json:"name"`
	Dst  struct {
		Port int `json:"port"`
	} `json:"dst"`
}

// trace sni: Go's TLS ClientHello for a name only this run knows, and a
// 1,900-byte one sent in two segments (the verifier must take the
// filter's flow tracking), each to a listener of this process.
func traceSNI(r *Run, h Host) (string, error) {
	if err := LoopbackUp(); err != nil {
		return "", err
	}
	ln, err := HelloSink("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	// Without kernel BTF ig falls back to the variant that knows no process.
	return AlsoVariant(r, "socket-filter-no-btf", false, func(r *Run) (string, error) { return checkSNI(r, port) })
}

// HelloSink listens on addr and reads what each client sends until it
// closes, or for a second: a ClientHello needs no answer to be seen, and
// a client that waits for one (nc) is let go. The caller closes it.
func HelloSink(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln, nil
}

func checkSNI(r *Run, port int) (string, error) {
	if err := r.Start(true); err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	goName, splitName := "ig-"+r.Tag+".example.test", "ig-"+r.Tag+"-split.example.test"
	var details []string
	for _, c := range []struct {
		name string
		send func() error
	}{
		{goName, func() error {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer raw.Close()
			c := tls.Client(raw, &tls.Config{ServerName: goName})
			c.SetDeadline(time.Now().Add(200 * time.Millisecond))
			c.Handshake() // nobody answers
			return nil
		}},
		{splitName, func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			hello := packettest.ClientHello(splitName, 25, true, 1216)
			c.Write(hello[:700])
			time.Sleep(50 * time.Millisecond)
			_, err = c.Write(hello[700:])
			return err
		}},
	} {
		var sendErr error
		ev, err := r.Await("the hello for "+c.name, r.AttachTimeout, func() { sendErr = c.send() }, func(e Event) bool {
			var s sniEvent
			return e.DecodeRaw(&s) == nil && s.Name == c.name
		})
		if err != nil {
			return "", fmt.Errorf("%v (last send: %v)", err, sendErr)
		}
		var s sniEvent
		if err := ev.DecodeRaw(&s); err != nil {
			return "", err
		}
		pid := os.Getpid()
		if r.Variant() == "socket-filter-no-btf" {
			pid = 0
		}
		var p Problems
		p.Check("dst port", s.Dst.Port, port)
		p.Check("pid", ev.Pid, pid)
		if len(p) > 0 {
			return "", errors.New(c.name + ": " + strings.Join(p, "; "))
		}
		details = append(details, fmt.Sprintf("%s (pid %d)", c.name, ev.Pid))
	}
	if err := r.StopClean(); err != nil {
		return "", err
	}
	return "hellos for " + strings.Join(details, " and "), nil
}
