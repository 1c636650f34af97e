package workloads

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

func init() { Table["trace signal"] = traceSignal }

// signalFields are trace signal's own fields.
type signalFields struct {
	Signal  string `json:"signal"`
	Tpid    int    `json:"tpid"`
	Error   string `json:"error"`
	Syscall string `json:"syscall"`
}

// trace signal: SIGUSR1 to a sleeping child, and SIGUSR2 to a pid that does
// not exist (ESRCH), both by kill(2) from this process.
func traceSignal(r *Run, h Host) (string, error) {
	self := os.Getpid()
	child := exec.Command(h.Busybox, "sleep", "100")
	if err := child.Start(); err != nil {
		return "", err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	marker := exec.Command(h.Busybox, "sleep", "100")
	if err := marker.Start(); err != nil {
		return "", err
	}
	defer func() { _ = marker.Process.Kill(); _ = marker.Wait() }()
	free := 4194000
	for ; syscall.Kill(free, 0) != syscall.ESRCH; free-- {
	}
	if err := r.Start(true, "--pid", fmt.Sprint(self)); err != nil {
		return "", err
	}
	fields := func(e Event) signalFields {
		var f signalFields
		_ = json.Unmarshal(e.Raw, &f)
		return f
	}
	// Attached when kill's existence check of the marker shows up.
	if _, err := r.Await("kill(0) of the marker", r.AttachTimeout, func() { _ = syscall.Kill(marker.Process.Pid, 0) },
		func(e Event) bool { f := fields(e); return f.Tpid == marker.Process.Pid && f.Signal == "0" }); err != nil {
		return "", err
	}
	if err := syscall.Kill(child.Process.Pid, syscall.SIGUSR1); err != nil {
		return "", err
	}
	if err := syscall.Kill(free, syscall.SIGUSR2); err != syscall.ESRCH {
		return "", fmt.Errorf("kill(%d, SIGUSR2): %v, want ESRCH", free, err)
	}
	var problems Problems
	check := problems.Check
	e, err := r.Await("SIGUSR1 to the child", r.EventTimeout, nil, func(e Event) bool { return fields(e).Tpid == child.Process.Pid })
	if err != nil {
		return "", err
	}
	f := fields(e)
	check("SIGUSR1: pid", e.Pid, self)
	check("SIGUSR1: comm", e.Comm, h.Comm)
	check("SIGUSR1: signal", f.Signal, "SIGUSR1")
	check("SIGUSR1: syscall", f.Syscall, "kill")
	check("SIGUSR1: ret", e.Ret, 0)
	e, err = r.Await("SIGUSR2 to a free pid", r.EventTimeout, nil, func(e Event) bool { return fields(e).Tpid == free })
	if err != nil {
		return "", err
	}
	f = fields(e)
	check("ESRCH: pid", e.Pid, self)
	check("ESRCH: signal", f.Signal, "SIGUSR2")
	check("ESRCH: ret", e.Ret, -int(syscall.ESRCH))
	check("ESRCH: error", f.Error, "ESRCH")
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return "caught kill(SIGUSR1) of a child and a kill that failed with ESRCH", nil
}
