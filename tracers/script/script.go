// Package script is the script gadget: a bpftrace program, restricted to
// the selected containers (and --pid, --comm) by a condition ig adds to
// each of its probes, with ig's output.
package script

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Line is one thing bpftrace printed: a printf's text, or a map, a
// histogram... at its end (as bpftrace's own JSON gives them).
type Line struct {
	Runtime tracers.Runtime `json:"runtime" desc:"the container's, when the script is restricted to one"`
	K8s     tracers.K8s     `json:"k8s" desc:"the pod's, when the script is restricted to one container of a pod"`
	Type    string          `json:"type" column:"type,width:8" desc:"bpftrace's kind of output: printf, map, hist, stats, time, join..."`
	Output  string          `json:"output" column:"output,width:60" desc:"a printf's text; empty otherwise"`
	Data    json.RawMessage `json:"data" desc:"bpftrace's data for it, as bpftrace -f json writes it"`
}

func init() {
	tracers.Register(&tracers.Gadget{
		Name:        "script",
		Description: "Run a bpftrace program, restricted to the selected containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "program", Aliases: []string{"e"}, Usage: "the bpftrace `PROGRAM`"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the bpftrace program from `FILE`"},
		},
		Schema:  output.NewSchema[Line](),
		Columns: tracers.Fixed("container", "output"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	prog, err := program(env.Args)
	if err != nil {
		return err
	}
	bpftrace, err := exec.LookPath("bpftrace")
	if err != nil {
		return fmt.Errorf("bpftrace not found on PATH: install it (Debian and Ubuntu: apt-get install bpftrace)")
	}
	cond, one := condition(env)
	if cond != "" {
		prog = restrict(prog, cond)
		env.Logf("script: each probe restricted to %s", cond)
	}
	jsonOut := env.Format.Mode != output.ModeColumns
	args := []string{"-e", prog}
	if jsonOut {
		args = append([]string{"-f", "json"}, args...)
	}
	cmd := exec.Command(bpftrace, args...)
	cmd.Env = append(os.Environ(), "BPFTRACE_NO_USER_SYMBOLS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start bpftrace: %w", err)
	}
	env.LoadedAll()
	// Ctrl-C, SIGTERM, --timeout: bpftrace prints its maps on SIGINT and
	// ends, detaching its programs.
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGINT)
		case <-stopped:
		}
	}()
	copyErr := copyOutput(env, out, jsonOut, one)
	werr := cmd.Wait()
	close(stopped)
	if copyErr != nil {
		return copyErr
	}
	if werr != nil && ctx.Err() == nil {
		return fmt.Errorf("bpftrace: %s", firstError(stderr.String(), werr))
	}
	return nil
}

// program is the bpftrace program of -e or -f.
func program(args tracers.Args) (string, error) {
	e, f := args.String("program"), args.String("file")
	switch {
	case e != "" && f != "":
		return "", fmt.Errorf("-e and -f: give the program one way")
	case e != "":
		return e, nil
	case f != "":
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("-f %s: %w", f, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("no program: give one with -e PROGRAM or -f FILE")
}

// condition is what restricts the program to the selection: the mount
// namespaces of the selected containers (as they are when ig starts),
// --pid and --comm; "" for everything. one is the container's fields when
// exactly one is selected, for every line.
func condition(env *tracers.Env) (string, *tracers.Event) {
	var conds []string
	var one *tracers.Event
	if f := env.Filter; f.MntNsMode == tracers.MntNsVerdicts {
		var ns []string
		for _, n := range f.Verdicts.Pass {
			ns = append(ns, "curtask->nsproxy->mnt_ns->ns.inum == "+strconv.FormatUint(n, 10))
		}
		if len(ns) == 0 {
			ns = []string{"0"} // nothing selected runs: nothing passes
		}
		conds = append(conds, strings.Join(ns, " || "))
		if len(f.Verdicts.Pass) == 1 && env.Enrich != nil {
			ev := tracers.Event{MountNsID: f.Verdicts.Pass[0]}
			if env.Enrich(&ev); ev.Runtime.ContainerName != "" {
				one = &ev
			}
		}
	}
	if env.Filter.Pid != 0 {
		conds = append(conds, "pid == "+strconv.FormatUint(uint64(env.Filter.Pid), 10))
	}
	if env.Filter.Comm != "" {
		conds = append(conds, "comm == "+strconv.Quote(env.Filter.Comm))
	}
	if len(conds) == 0 {
		return "", nil
	}
	for i := range conds {
		conds[i] = "(" + conds[i] + ")"
	}
	return strings.Join(conds, " && "), one
}

// copyOutput passes bpftrace's output on: as it is in columns mode; else
// each of bpftrace's JSON lines as ig's, with the container.
func copyOutput(env *tracers.Env, r io.Reader, jsonOut bool, one *tracers.Event) error {
	if !jsonOut {
		_, err := io.Copy(env.Stdout, r)
		return err
	}
	printer, err := output.NewPrinter[Line](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var in struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if len(strings.TrimSpace(sc.Text())) == 0 || json.Unmarshal(sc.Bytes(), &in) != nil {
			continue
		}
		if in.Type == "attached_probes" {
			env.Logf("script: bpftrace attached %s", in.Data)
			continue
		}
		l := Line{Type: in.Type, Data: in.Data}
		if one != nil {
			l.Runtime, l.K8s = one.Runtime, one.K8s
		}
		if in.Type == "printf" {
			_ = json.Unmarshal(in.Data, &l.Output)
		}
		printer.Print(&l)
		if err := printer.Flush(); err != nil { // bpftrace prints little: each line as it comes
			return err
		}
	}
	return sc.Err()
}

// firstError is bpftrace's first error line, or how it ended.
func firstError(stderr string, err error) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "ERROR") && !strings.Contains(l, "RLIMIT_MEMLOCK") {
			return strings.TrimSpace(l)
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return "exited with " + exit.String()
	}
	return err.Error()
}
