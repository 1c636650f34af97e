package workloads

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

func init() { Table["snapshot socket"] = snapshotSocket }

// socketRow has the fields of snapshot socket the workload checks.
type socketRow struct {
	Pid      int         `json:"pid"`
	Comm     string      `json:"comm"`
	Protocol string      `json:"protocol"`
	Src      TCPEndpoint `json:"src"`
	Status   string      `json:"status"`
	Inode    uint64      `json:"inodeNumber"`
	Path     string      `json:"path"`
}

// snapshot socket: this process's TCP listener on 127.0.0.1, UDP socket
// and unix listener are listed with this process, their ports or path,
// and their states.
func snapshotSocket(r *Run, h Host) (string, error) {
	if err := LoopbackUp(); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer udp.Close()
	path := filepath.Join(os.TempDir(), "ig-socket-"+r.Tag)
	ul, err := net.Listen("unix", path)
	if err != nil {
		return "", err
	}
	defer ul.Close()
	// Without socket iterators ig asks sock_diag, whose modules a guest
	// without them refuses.
	return AlsoVariant(r, "netlink", true, func(r *Run) (string, error) { return checkSockets(r, h, ln, udp, path) })
}

func checkSockets(r *Run, h Host, ln net.Listener, udp net.PacketConn, path string) (string, error) {
	if err := r.Start(false); err != nil {
		return "", err
	}
	if err := r.WaitEnd(r.AttachTimeout); err != nil {
		return "", err
	}
	var rows []socketRow
	if err := json.Unmarshal(r.stdout.Bytes(), &rows); err != nil {
		return "", fmt.Errorf("output is not a JSON array: %v: %q", err, r.stdout.String())
	}
	r.Seen = len(rows)
	var p Problems
	for _, want := range []struct {
		proto  string
		port   int
		path   string
		status string
	}{
		{"TCP", ln.Addr().(*net.TCPAddr).Port, "", "LISTEN"},
		{"UDP", udp.LocalAddr().(*net.UDPAddr).Port, "", "INACTIVE"},
		{"UNIX", 0, path, "LISTEN"},
	} {
		found := false
		for _, row := range rows {
			if row.Protocol == want.proto && row.Src.Port == want.port && row.Path == want.path {
				found = true
				p.Check(want.proto+" status", row.Status, want.status)
				p.Check(want.proto+" pid", row.Pid, os.Getpid())
				p.Check(want.proto+" comm", row.Comm, h.Comm)
				p.Check(want.proto+" has an inode", row.Inode != 0, true)
			}
		}
		if !found {
			p = append(p, fmt.Sprintf("no %s socket %d%s", want.proto, want.port, want.path))
		}
	}
	if len(p) > 0 {
		return "", errors.New(strings.Join(p, "; "))
	}
	return fmt.Sprintf("this process's TCP listener, UDP socket and unix listener among %d sockets", len(rows)), nil
}
