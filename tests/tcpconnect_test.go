package tests

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tcpConnectEvent is a trace tcpconnect event, as JSON.
type tcpConnectEvent struct {
	commonEvent
	connFields
	Latency uint64 `json:"latency"`
	Err     int    `json:"err"`
	Error   string `json:"error"`
}

// TestTraceTCPConnect: a connect to a listener shows with this process,
// the ports and a latency above zero; one to a closed port with
// ECONNREFUSED. --min keeps only slower handshakes: with --min 1h, none.
func TestTraceTCPConnect(t *testing.T) {
	igBinary(t)
	pid, comm := os.Getpid(), testComm(t)
	ig := startIG(t, "trace", "tcpconnect", "-o", "json", "--latency", "--pid", strconv.Itoa(pid))
	ig.waitAttachedTCP(t)
	client, server := exchange(t, "::1", 1, 1)
	refused := closedPort(t)
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(refused)); err == nil {
		t.Fatalf("connect to closed port %d succeeded", refused)
	}
	ig.waitUntil("the refused connect", func() {}, streamMatcher(func(e *tcpConnectEvent) bool { return e.Dst.Port == refused }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[tcpConnectEvent](t, r.Stdout)
	ok := findOne(t, evs, "the connect to ::1", func(e *tcpConnectEvent) bool { return e.Src.Port == client && e.Dst.Port == server })
	if ok.Pid != int64(pid) || ok.Comm != comm || ok.IPVersion != 6 || ok.Src.Addr != "::1" || ok.Latency == 0 || ok.Err != 0 || ok.Error != "" {
		t.Errorf("connect to ::1: %+v", ok)
	}
	bad := findOne(t, evs, "the refused connect", func(e *tcpConnectEvent) bool { return e.Dst.Port == refused })
	if bad.Pid != int64(pid) || bad.Err != int(unix.ECONNREFUSED) || bad.Error != "ECONNREFUSED" || bad.Latency == 0 {
		t.Errorf("refused connect: %+v", bad)
	}
	for _, e := range evs {
		if e.Pid != int64(pid) {
			t.Errorf("an event that is no connect of this process: %+v", e)
		}
	}

	// --min: the kernel drops faster handshakes; -o columns shows the
	// latency column.
	ig = startIG(t, "trace", "tcpconnect", "--min", "1h", "--pid", strconv.Itoa(pid))
	ig2 := startIG(t, "trace", "tcpconnect", "--min", "1ns", "--pid", strconv.Itoa(pid))
	var ports []string
	ig2.waitUntil("a connect with --min 1ns", func() {
		port, _ := exchange(t, "127.0.0.1", 1, 1)
		ports = append(ports, "127.0.0.1:"+strconv.Itoa(port)+" ")
	}, func(out []byte) bool {
		return slices.ContainsFunc(ports, func(p string) bool { return strings.Contains(string(out), p) })
	})
	exchange(t, "127.0.0.1", 1, 1)
	r = ig.stop(sigINT)
	checkSuccess(t, r)
	lines := completeLines(r.Stdout)
	if len(lines) != 1 || !strings.Contains(lines[0], "LAT(US)") {
		t.Errorf("--min 1h: want the header (with LAT(US)) alone, got %q", lines)
	}
	checkSuccess(t, ig2.stop(sigINT))

	if msg := checkFailure(t, runIG(t, "trace", "tcpconnect", "--min", "soon")); !strings.Contains(msg, "soon") {
		t.Errorf("--min soon: %q", msg)
	}
}
