package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// socketRow is a snapshot socket row, as JSON.
type socketRow struct {
	commonEvent
	Protocol string `json:"protocol"`
	Src      struct {
		Addr  string `json:"addr"`
		Port  int    `json:"port"`
		Proto int    `json:"proto"`
	} `json:"src"`
	Dst struct {
		Addr string `json:"addr"`
		Port int    `json:"port"`
	} `json:"dst"`
	Status string `json:"status"`
	Inode  uint64 `json:"inodeNumber"`
	NetNs  uint64 `json:"netnsid"`
	Path   string `json:"path"`
	Type   string `json:"type"`
}

// snapshotSockets runs snapshot socket with args and returns its rows.
func snapshotSockets(t *testing.T, args ...string) []socketRow {
	t.Helper()
	r := runIG(t, append([]string{"snapshot", "socket", "-o", "json"}, args...)...)
	checkSuccess(t, r)
	return decodeAll[socketRow](t, snapshotArray(t, r))
}

// TestSnapshotSocket: this process's TCP listener (IPv4 and IPv6), a
// connection with both its ends, an unconnected and a connected UDP
// socket and a unix listener are listed with this process, their
// addresses, states and inodes; --proto keeps one protocol. Both variants
// (iterators; sock_diag and /proc) list the same.
func TestSnapshotSocket(t *testing.T) {
	igBinary(t)
	pid := os.Getpid()
	ln4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln6.Close()
	client, err := net.Dial("tcp", ln4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln4.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpConn, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer udpConn.Close()
	path := filepath.Join(t.TempDir(), "ig.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	hostNet := netNsOf(t, pid)
	for _, variant := range socketVariants {
		t.Run(variant, func(t *testing.T) {
			checkSnapshotSockets(t, variant, ln4, ln6, client, udp, udpConn, path, hostNet)
		})
	}
	if msg := checkFailure(t, runIG(t, "snapshot", "socket", "--proto", "sctp")); msg != "ig: --proto sctp: want tcp, udp, unix or all" {
		t.Errorf("--proto sctp: %q", msg)
	}
}

// socketVariants are snapshot socket's: the iterators, and sock_diag with
// /proc (for kernels without them), which must list the same.
var socketVariants = []string{"iter/tcp+udp", "netlink"}

func checkSnapshotSockets(t *testing.T, variant string, ln4, ln6 net.Listener, client net.Conn, udp net.PacketConn, udpConn net.Conn, path string, hostNet uint64) {
	pid, comm := os.Getpid(), testComm(t)
	rows := snapshotSockets(t, "--variant", variant)
	port := func(a net.Addr) int {
		switch a := a.(type) {
		case *net.TCPAddr:
			return a.Port
		case *net.UDPAddr:
			return a.Port
		}
		return 0
	}
	for _, want := range []struct {
		what, proto, addr string
		port, dstPort     int
		status            string
	}{
		{"IPv4 listener", "TCP", "127.0.0.1", port(ln4.Addr()), 0, "LISTEN"},
		{"IPv6 listener", "TCP", "::1", port(ln6.Addr()), 0, "LISTEN"},
		{"client", "TCP", "127.0.0.1", port(client.LocalAddr()), port(ln4.Addr()), "ESTABLISHED"},
		{"accepted", "TCP", "127.0.0.1", port(ln4.Addr()), port(client.LocalAddr()), "ESTABLISHED"},
		{"unconnected UDP", "UDP", "127.0.0.1", port(udp.LocalAddr()), 0, "INACTIVE"},
		{"connected UDP", "UDP", "127.0.0.1", port(udpConn.LocalAddr()), port(udp.LocalAddr()), "ACTIVE"},
	} {
		r := findOne(t, rows, want.what, func(r *socketRow) bool {
			return r.Protocol == want.proto && r.Src.Port == want.port && r.Dst.Port == want.dstPort
		})
		if r.Src.Addr != want.addr || r.Status != want.status || r.Pid != int64(pid) || r.Comm != comm ||
			r.Inode == 0 || r.NetNs != hostNet || r.Runtime.ContainerName != "" {
			t.Errorf("%s: %+v", want.what, r)
		}
	}
	u := findOne(t, rows, "unix listener", func(r *socketRow) bool { return r.Protocol == "UNIX" && r.Path == path })
	if u.Status != "LISTEN" || u.Type != "STREAM" || u.Pid != int64(pid) || u.Comm != comm || u.Inode == 0 {
		t.Errorf("unix listener: %+v", u)
	}

	for _, proto := range []string{"tcp", "udp", "unix"} {
		n := 0
		for _, r := range snapshotSockets(t, "--proto", proto, "--variant", variant) {
			n++
			if r.Protocol != strings.ToUpper(proto) {
				t.Errorf("--proto %s: a %s socket", proto, r.Protocol)
			}
		}
		if n == 0 {
			t.Errorf("--proto %s: no socket", proto)
		}
	}
}

// TestSnapshotSocketContainer: nc listening in a docker container is
// listed in the container's network namespace, as nc's and the
// container's; under -c, only that container's sockets are.
func TestSnapshotSocketContainer(t *testing.T) {
	runtimesUp(t)
	name, pid := container(t, "docker")
	nc := exec.Command("runtimes/run.sh", "exec", "docker", name, "sh", "-c", "nc -l -p 7777 >/dev/null; true")
	if err := nc.Start(); err != nil {
		t.Fatal(err)
	}
	defer nc.Wait()
	for _, variant := range socketVariants {
		t.Run(variant, func(t *testing.T) {
			var rows []socketRow
			for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
				rows = snapshotSockets(t, "-c", name, "--variant", variant)
				if countOf(rows, func(r *socketRow) bool { return r.Src.Port == 7777 }) > 0 {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("nc's listener never listed: %+v", rows)
				}
			}
			netns := netNsOf(t, pid)
			r := findOne(t, rows, "nc's listener", func(r *socketRow) bool { return r.Src.Port == 7777 })
			if r.Protocol != "TCP" || r.Status != "LISTEN" || r.Comm != "nc" || r.Pid == 0 || r.NetNs != netns ||
				r.Runtime.ContainerName != name || r.Runtime.RuntimeName != "docker" {
				t.Errorf("nc's listener: %+v", r)
			}
			for _, r := range rows {
				if r.NetNs != netns && r.Runtime.ContainerName != name {
					t.Errorf("-c %s: a socket of %q in netns %d: %+v", name, r.Runtime.ContainerName, r.NetNs, r)
				}
			}
		})
	}
	inContainer(t, "docker", name, "sh", "-c", "echo | nc -w 1 127.0.0.1 7777; true")
}
