package workloads

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
)

func init() { Table["advise network-policy"] = adviseNetworkPolicy }

// NetworkPolicyRow has the fields of an advise network-policy row the
// workloads check.
type NetworkPolicyRow struct {
	Runtime struct {
		RuntimeName string `json:"runtimeName"`
	} `json:"runtime"`
	Connections []NetworkPolicyConn `json:"connections"`
	Policy      json.RawMessage     `json:"policy"`
}

// NetworkPolicyConn is one recorded peer.
type NetworkPolicyConn struct {
	Direction string `json:"direction"`
	Proto     string `json:"proto"`
	Dst       struct {
		Addr string `json:"addr"`
	} `json:"dst"`
	Port  uint16 `json:"port"`
	Count uint64 `json:"count"`
}

// advise network-policy, host-level (a guest has no container): TCP
// connections over 127.0.0.1 to a listener of this process, and UDP
// datagrams sent to a port there; the host's report must list the
// connect (egress) and the accept (ingress) with the listener's port, the
// datagrams (egress, udp), and no policy (the host is no pod).
func adviseNetworkPolicy(r *Run, h Host) (string, error) {
	if err := LoopbackUp(); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer udp.Close()
	tcpPort := uint16(ln.Addr().(*net.TCPAddr).Port)
	udpTo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5399}
	lines, err := runUntilExit(r, 3, func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		c.Close()
		_, err = udp.WriteTo([]byte("x"), udpTo)
		return err
	})
	if err != nil {
		return "", err
	}
	want := []NetworkPolicyConn{
		{Direction: "egress", Proto: "tcp", Port: tcpPort},
		{Direction: "egress", Proto: "udp", Port: uint16(udpTo.Port)},
		{Direction: "ingress", Proto: "tcp", Port: tcpPort},
	}
	for _, l := range lines {
		var row NetworkPolicyRow
		if err := json.Unmarshal(l, &row); err != nil {
			return "", fmt.Errorf("not a JSON object: %q", l)
		}
		r.Seen++
		if row.Runtime.RuntimeName != "" {
			continue
		}
		if string(row.Policy) != "null" {
			return "", fmt.Errorf("a policy for the host: %s", l)
		}
		found := 0
		for _, w := range want {
			if slices.ContainsFunc(row.Connections, func(c NetworkPolicyConn) bool {
				return c.Direction == w.Direction && c.Proto == w.Proto && c.Port == w.Port && c.Dst.Addr == "127.0.0.1" && c.Count > 0
			}) {
				found++
			}
		}
		if found == len(want) {
			return fmt.Sprintf("host: tcp 127.0.0.1:%d egress and ingress, udp 127.0.0.1:%d egress (%d peers)", tcpPort, udpTo.Port, len(row.Connections)), nil
		}
		return "", fmt.Errorf("the host's connections lack some of %+v: %s", want, l)
	}
	return "", fmt.Errorf("no report for the host in %d lines", len(lines))
}
