// Package seccompprofile is the advise seccomp-profile gadget: it records
// the system calls of each selected container until stopped, then writes
// an OCI seccomp profile per container that allows those and refuses the
// rest with EPERM.
package seccompprofile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
)

// Profile is one container's profile.
type Profile struct {
	tracers.Event
	Syscalls []string   `json:"syscalls" desc:"the system calls the container made while recorded (x86_64 names), sorted"`
	File     string     `json:"file" column:"file,width:40" desc:"where the profile was written (--output-dir); empty otherwise"`
	Profile  OCIProfile `json:"profile" desc:"the OCI seccomp profile, as docker run and podman run take it (--security-opt seccomp=FILE)"`
}

// OCIProfile is the seccomp profile format of docker, podman and the OCI
// runtime spec's tools.
type OCIProfile struct {
	DefaultAction   string        `json:"defaultAction" desc:"what other system calls get: SCMP_ACT_ERRNO"`
	DefaultErrnoRet int           `json:"defaultErrnoRet" desc:"their errno: 1 (EPERM)"`
	Architectures   []string      `json:"architectures" desc:"the native architectures (x86_64 and its 32-bit ABIs)"`
	Syscalls        []SyscallRule `json:"syscalls" desc:"the allowed system calls"`
}

// SyscallRule is a group of system calls with one action.
type SyscallRule struct {
	Names  []string `json:"names" desc:"system call names"`
	Action string   `json:"action" desc:"SCMP_ACT_ALLOW"`
}

var schema = output.NewSchema[Profile]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "advise",
		Name:        "seccomp-profile",
		Description: "Record the system calls of containers until stopped, then write a seccomp profile for each",
		Flags: append(tracers.SummaryFlags(),
			tracers.OutputDirFlag("write each container's profile to `DIR`/NAME.json (default: print them)"),
		),
		Schema:  schema,
		Columns: tracers.Fixed("container", "file"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	dir, err := tracers.OutputDir(env.Args)
	if err != nil {
		return err
	}
	spec, err := loadSeccompprofile()
	if err != nil {
		return err
	}
	// Containers may stop before the profiles are written: each one seen
	// while recording is remembered by its mount namespace (its container
	// fields).
	known := tracers.Remember(env, func(s *tracers.Seen[tracers.Event], cts []runtimes.Container) {
		for i := range cts {
			if ct := &cts[i]; ct.MountNsID != 0 && !ct.Sandbox {
				var ev tracers.Event
				ev.Runtime, ev.K8s = tracers.ContainerFields(ct)
				s.Update(ct.MountNsID, func(tracers.Event, bool) tracers.Event { return ev })
			}
		}
	})
	return tracers.RunSummary[Profile](ctx, env, spec, nil, tracers.SummarySpec[Profile]{
		Collect:    func(p *tracers.Program) ([]Profile, error) { return collect(p, known, env, dir) },
		Collecting: func(ctx context.Context, p *tracers.Program) { learn(ctx, known, env, p) },
		Text:       text,
	})
}

// learn names the containers of the mount namespaces the kernel has
// recorded while the runtimes know them.
func learn(ctx context.Context, known *tracers.Seen[tracers.Event], env *tracers.Env, p *tracers.Program) {
	if env.Enrich == nil {
		return
	}
	recorded := func(yield func(uint64)) {
		var mntns uint64
		var set seccompprofileSyscallSet
		for it := p.Coll.Maps["syscalls_by_mntns"].Iterate(); it.Next(&mntns, &set); {
			yield(mntns)
		}
	}
	known.Learn(ctx, recorded, func(mntns uint64) {
		ev := tracers.Event{MountNsID: mntns}
		if env.Enrich(&ev) && ev.Runtime.ContainerName != "" {
			known.Update(mntns, func(tracers.Event, bool) tracers.Event { return tracers.Event{Runtime: ev.Runtime, K8s: ev.K8s} })
		}
	})
}

// collect reads what the kernel recorded, a profile per container (other
// mount namespaces, the host's, are left out), and writes them to dir.
func collect(p *tracers.Program, known *tracers.Seen[tracers.Event], env *tracers.Env, dir string) ([]Profile, error) {
	var (
		mntns uint64
		set   seccompprofileSyscallSet
		rows  []Profile
	)
	deadline := time.Now().Add(time.Second) // for the runtimes' answers, all told
	it := p.Coll.Maps["syscalls_by_mntns"].Iterate()
	for it.Next(&mntns, &set) {
		row := Profile{}
		row.MountNsID = mntns
		if ev, ok := known.Get(mntns); ok {
			row.Runtime, row.K8s = ev.Runtime, ev.K8s
		} else if !enrich(env, &row.Event, deadline) {
			env.Logf("advise seccomp-profile: mount namespace %d is no container's: left out", mntns)
			continue // the host's, or no container ig could name
		}
		var names []string
		for nr, seen := range set.Seen {
			if seen != 0 {
				names = append(names, tracers.SyscallName(int64(nr)))
			}
		}
		row.Syscalls, row.Profile = sortedUnique(names), profileFor(names)
		rows = append(rows, row)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read the recorded system calls: %w", err)
	}
	slices.SortFunc(rows, func(a, b Profile) int { return strings.Compare(a.Runtime.ContainerName, b.Runtime.ContainerName) })
	if dir != "" {
		for i := range rows {
			path := filepath.Join(dir, fileName(rows[i].Runtime.ContainerName, rows[i].Runtime.ContainerID)+".json")
			b, _ := json.MarshalIndent(rows[i].Profile, "", "  ")
			if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
				return nil, fmt.Errorf("write the profile of %s: %w", rows[i].Runtime.ContainerName, err)
			}
			rows[i].File = path
		}
	}
	return rows, nil
}

// enrich names the container of a mount namespace that started too
// recently for the collection's news (the runtimes are asked, for up to a
// second in all); false when it is none's.
func enrich(env *tracers.Env, ev *tracers.Event, deadline time.Time) bool {
	if env.Enrich == nil {
		return false
	}
	for !env.Enrich(ev) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return ev.Runtime.ContainerName != ""
}

// runcNeeds are the system calls runc's init (Go) may make after it has
// installed the container's filter and before it runs the workload: a
// profile recorded after the container started has not seen them.
var runcNeeds = []string{
	"execve", "execveat", "exit", "exit_group", "futex", "nanosleep", "sched_yield", "getpid", "gettid", "tgkill",
	"rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "sigaltstack", "mmap", "munmap", "madvise", "read", "write",
	"close", "fcntl", "epoll_pwait", "capget", "capset", "prctl", "newfstatat", "fstat", "getppid",
}

// profileFor allows names and what runc needs; every other system call
// gets EPERM, so that a program sees a refusal rather than a kill.
func profileFor(names []string) OCIProfile {
	// A number ig has no name for (a system call newer than its table)
	// cannot be written in a profile.
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return strings.HasPrefix(n, "syscall") })
	return OCIProfile{
		DefaultAction:   "SCMP_ACT_ERRNO",
		DefaultErrnoRet: 1,
		Architectures:   []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		Syscalls:        []SyscallRule{{Names: sortedUnique(append(slices.Clone(names), runcNeeds...)), Action: "SCMP_ACT_ALLOW"}},
	}
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// fileName is a container's profile file name: its name, made safe, or
// its id when it has none.
func fileName(name, id string) string {
	if name == "" {
		name = id
	}
	return unsafeName.ReplaceAllString(name, "_")
}

// text prints, for people, each container's profile: where it was
// written, or the profile itself.
func text(w io.Writer, rows []Profile) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no container made a system call while recorded")
		return err
	}
	for _, r := range rows {
		ct := r.Runtime.ContainerName
		if r.File != "" {
			if _, err := fmt.Fprintf(w, "%s (%s): %d system calls, profile written to %s\n", ct, r.Runtime.RuntimeName, len(r.Syscalls), r.File); err != nil {
				return err
			}
			continue
		}
		b, _ := json.MarshalIndent(r.Profile, "", "  ")
		if _, err := fmt.Fprintf(w, "# %s (%s): %d system calls\n%s\n", ct, r.Runtime.RuntimeName, len(r.Syscalls), b); err != nil {
			return err
		}
	}
	return nil
}
