package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tests/workloads"
)

// tcpStats is a row of top tcp, as JSON.
type tcpStats struct {
	commonEvent
	IPVersion int                   `json:"ipversion"` // the address family, as IG has it: 2 or 10
	Src       workloads.TCPEndpoint `json:"src"`
	Dst       workloads.TCPEndpoint `json:"dst"`
	Sent      uint64                `json:"sent"`
	Received  uint64                `json:"received"`
}

// tcpTable matches the top tcp tables (one JSON array an interval) that
// hold a row match accepts.
func tcpTable(match func(*tcpStats) bool) func([]byte) bool {
	return streamMatcher(func(rows *[]tcpStats) bool {
		for i := range *rows {
			if match(&(*rows)[i]) {
				return true
			}
		}
		return false
	})
}

// tcpTables parses the output of top tcp -o json: a JSON array a line.
func tcpTables(t *testing.T, out []byte) [][]tcpStats {
	t.Helper()
	var tables [][]tcpStats
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var table []tcpStats
		if err := json.Unmarshal([]byte(l), &table); err != nil {
			t.Fatalf("top tcp -o json: not a JSON array: %q", l)
		}
		tables = append(tables, table)
	}
	return tables
}

// otherSender returns a function that has busybox nc, another process,
// send bytes to a listener of this test.
func otherSender(t *testing.T) func() {
	t.Helper()
	busybox := requireTool(t, "busybox")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	discardAll(t, ln)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	return func() {
		cmd := exec.Command(busybox, "nc", "-w", "1", "127.0.0.1", port)
		cmd.Stdin = strings.NewReader(strings.Repeat("x", 5000))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("busybox nc: %v\n%s", err, out)
		}
	}
}

// transfers records the test's TCP transfers (made by waitUntil's trigger).
type transfers struct {
	mu   sync.Mutex
	list []workloads.Transfer
}

func (ts *transfers) make(t *testing.T, addr string, size int) {
	tr, err := workloads.TCPTransfer(addr, size)
	if err != nil {
		t.Fatalf("transfer over %s: %v", addr, err)
	}
	ts.mu.Lock()
	ts.list = append(ts.list, tr)
	ts.mu.Unlock()
}

// shown says whether one of the transfers over addr is in a table: the
// client's row with exactly its bytes sent (none received), the server's
// with them received, both of this process, with the ports and version.
func (ts *transfers) shown(addr string, version int, comm string) func([]byte) bool {
	pid := os.Getpid()
	check := func(row *tcpStats, tr workloads.Transfer, client bool) bool {
		src, dst, sent, recv := tr.ClientPort, tr.ServerPort, uint64(tr.Size), uint64(0)
		if !client {
			src, dst, sent, recv = dst, src, recv, sent
		}
		return row.Pid == int64(pid) && row.Comm == comm && row.IPVersion == map[int]int{4: 2, 6: 10}[version] &&
			row.Src == workloads.TCPEndpoint{Addr: addr, Version: version, Port: src, Proto: 6} &&
			row.Dst == workloads.TCPEndpoint{Addr: addr, Version: version, Port: dst, Proto: 6} &&
			row.Sent == sent && row.Received == recv
	}
	seen := map[string]bool{}
	tables := func(client bool) func([]byte) bool {
		return tcpTable(func(row *tcpStats) bool {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			for _, tr := range ts.list {
				if tr.Addr == addr && check(row, tr, client) {
					seen[fmt.Sprint(client, tr.ClientPort)] = true
				}
			}
			return false
		})
	}
	clientRows, serverRows := tables(true), tables(false)
	return func(out []byte) bool {
		clientRows(out)
		serverRows(out)
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for _, tr := range ts.list {
			if seen[fmt.Sprint(true, tr.ClientPort)] && seen[fmt.Sprint(false, tr.ClientPort)] {
				return true
			}
		}
		return false
	}
}

// TestTopTCP moves a known number of bytes over 127.0.0.1 and over ::1,
// between a client and a server of this process, and wants top tcp's rows
// for both ends: the client's with exactly those bytes sent, the server's
// with them received, with their addresses, ports and IP version.
// --family 6 leaves the IPv4 connections out, in the kernel.
func TestTopTCP(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	pid := strconv.Itoa(os.Getpid())
	const size = 100000 + 7

	t.Run("both families", func(t *testing.T) {
		ig := startIG(t, "top", "tcp", "-o", "json", "--pid", pid, "--interval", "1")
		var ts transfers
		ig.waitUntil("a connection over 127.0.0.1 with its bytes", func() { ts.make(t, "127.0.0.1", size) }, ts.shown("127.0.0.1", 4, comm))
		// Another process sends to this one meanwhile: --pid leaves its
		// row out, in the kernel (ig does not filter pids itself).
		other := otherSender(t)
		ig.waitUntil("a connection over ::1 with its bytes", func() { other(); ts.make(t, "::1", size) }, ts.shown("::1", 6, comm))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, table := range tcpTables(t, r.Stdout) {
			for _, row := range table {
				if row.Pid != int64(os.Getpid()) {
					t.Errorf("--pid %s shows a row of pid %d: %+v", pid, row.Pid, row)
				}
			}
		}
	})

	t.Run("--family 6", func(t *testing.T) {
		ig := startIG(t, "top", "tcp", "-o", "json", "--pid", pid, "--interval", "1", "--family", "6")
		var ts transfers
		ig.waitUntil("a connection over ::1", func() {
			ts.make(t, "127.0.0.1", size)
			ts.make(t, "::1", size)
		}, ts.shown("::1", 6, comm))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, table := range tcpTables(t, r.Stdout) {
			for _, row := range table {
				if row.IPVersion != 10 || row.Src.Version != 6 {
					t.Errorf("--family 6 shows an IPv%d row: %+v", row.Src.Version, row)
				}
			}
		}
	})
}

// TestTopTCPContainer has busybox nc, in a docker container (whose network
// is its own loopback), send a known number of bytes to a listening nc in
// the same container; ig -c NAME shows both ends as the container's, and
// nothing of this process's own transfers.
func TestTopTCPContainer(t *testing.T) {
	igBinary(t)
	runtimesUp(t)
	name, _ := container(t, "docker")
	ig := startIG(t, "top", "tcp", "-o", "json", "-c", name, "--interval", "1", "-v")
	const size, port = 12345, 5555
	inContainerRow := func(row *tcpStats) bool {
		// busybox nc listens on :: (IPv4 clients show as IPv4-mapped IPv6)
		// and connects over IPv4.
		return row.Runtime.ContainerName == name && row.Runtime.RuntimeName == "docker" && row.Comm == "nc" &&
			(row.Src.Addr == "127.0.0.1" && row.IPVersion == 2 || row.Src.Addr == "::ffff:127.0.0.1" && row.IPVersion == 10)
	}
	var ts transfers
	ig.waitUntil("nc's bytes, sent and received in the container", func() {
		ts.make(t, "127.0.0.1", 1000) // not the container's: must not show
		inContainer(t, "docker", name, "sh", "-c",
			fmt.Sprintf("nc -l -p %d > /dev/null & sleep 0.3; head -c %d /dev/zero | nc -w 1 127.0.0.1 %d; wait", port, size, port))
	}, func(out []byte) bool {
		sent := tcpTable(func(row *tcpStats) bool {
			return inContainerRow(row) && row.Dst.Port == port && row.Sent == size && row.Received == 0
		})
		received := tcpTable(func(row *tcpStats) bool {
			return inContainerRow(row) && row.Src.Port == port && row.Received == size && row.Sent == 0
		})
		return sent(out) && received(out)
	})
	// Three more intervals of the host's transfers: the kernel keeps them out.
	for i := 0; i < 30; i++ {
		ts.make(t, "127.0.0.1", 1000)
		time.Sleep(100 * time.Millisecond)
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r, regexp.MustCompile(`^ig: `))
	for _, table := range tcpTables(t, r.Stdout) {
		for _, row := range table {
			if row.Runtime.ContainerName != name {
				t.Errorf("-c %s shows a row of another process: %+v", name, row)
			}
		}
	}
	kernelKeptOut(t, r, "-c "+name)
}

// TestTopTCPDetach: top tcp lets go of every eBPF object when it stops.
func TestTopTCPDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	comm := testComm(t)
	var ts transfers
	checkLifecycle(t, lifecycleGadget{
		name:  "top tcp SIGINT",
		args:  []string{"top", "tcp", "-o", "json", "--pid", strconv.Itoa(os.Getpid()), "--interval", "1"},
		progs: []string{"sock_send_length", "sock_recv_length"},
		attached: func(p *proc) {
			p.waitUntil("a connection", func() { ts.make(t, "127.0.0.1", 1000) }, ts.shown("127.0.0.1", 4, comm))
		},
		stop: sigINT,
	})
}

// TestTopTCPBadInput: a clear error for a bad --family.
func TestTopTCPBadInput(t *testing.T) {
	igBinary(t)
	msg := checkFailure(t, runIG(t, "top", "tcp", "--family", "5"))
	if msg != "ig: --family 5: want 4 or 6" {
		t.Errorf("got %q", msg)
	}
}
