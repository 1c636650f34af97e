package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// refVersion is the Inspektor Gadget release whose ig the parity test runs
// beside ours: the first of the versions (v0.26 to v0.41) whose fields ig
// keeps. Later releases add fields (exec's ptid, pcomm, pupperlayer,
// parent_exepath) that ig emits too (TestTraceExecIGFields), but they build
// only with the Go toolchain of their day.
const refVersion = "v0.26.0"

// refIG returns Inspektor Gadget's own ig: $IG_PARITY_REF, or the one
// scripts/ig-ref.sh builds from the Go module proxy, outside the repository,
// once per machine (/var/tmp/ig-ref/VERSION/ig; the first build takes a few
// minutes, later calls return at once).
func refIG(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("IG_PARITY_REF"); p != "" {
		return p
	}
	script, err := filepath.Abs("../scripts/ig-ref.sh")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	cmd := exec.Command("bash", script, refVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building Inspektor Gadget %s's ig (scripts/ig-ref.sh): %v\n%s", refVersion, err, tail(stderr.Bytes()))
	}
	if d := time.Since(t0); d > time.Second {
		t.Logf("built Inspektor Gadget %s's ig in %v", refVersion, d.Round(time.Second))
	}
	return strings.TrimSpace(string(out))
}

// parityExcused are the keys of IG's event whose values are not compared
// for equality, and why. Every one of them must still be present in ig's.
var parityExcused = map[string]string{
	// Both read the kernel's boot clock at the event, but at different
	// hooks, and turn it into wall time with offsets measured separately.
	"timestamp": "compared within 100 ms",
	// trace mount: from the syscall's entry to its exit, measured by each
	// at its own hooks.
	"latency": "compared to be non-zero in both",
}

// mapEvents parses one JSON object per line into maps.
func mapEvents(t *testing.T, who string, out []byte) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("%s: a line of its -o json is not a JSON object: %v: %s", who, err, line)
		}
		evs = append(evs, m)
	}
	return evs
}

// oneEvent returns the single event match accepts.
func oneEvent(t *testing.T, who, what string, evs []map[string]any, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, ev := range evs {
		if match(ev) {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one event for %s among %d, got %d: %v", who, what, len(evs), len(found), found)
	}
	return found[0]
}

// compareParity checks that every key of IG's event (nested ones too:
// runtime.*, k8s.*) is in ig's, and that their values are equal, but for
// the excused keys. It returns the keys compared.
func compareParity(t *testing.T, ref, ours map[string]any, prefix string) []string {
	t.Helper()
	var compared []string
	keys := make([]string, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := prefix + k
		rv := ref[k]
		ov, ok := ours[k]
		if !ok {
			t.Errorf("IG's event has %s (%v), ig's has not", name, rv)
			continue
		}
		if rm, isMap := rv.(map[string]any); isMap {
			om, ok := ov.(map[string]any)
			if !ok {
				t.Errorf("%s: IG's is an object, ig's is %v", name, ov)
				continue
			}
			compared = append(compared, compareParity(t, rm, om, name+".")...)
			continue
		}
		compared = append(compared, name)
		if name == "timestamp" {
			r, _ := rv.(json.Number).Int64()
			o, _ := ov.(json.Number).Int64()
			if d := time.Duration(o - r); math.Abs(float64(d)) > float64(100*time.Millisecond) {
				t.Errorf("timestamp: IG's %d, ig's %d: %v apart", r, o, d)
			}
			continue
		}
		if _, excused := parityExcused[name]; excused {
			if name == "latency" && (fmt.Sprint(rv) == "0" || fmt.Sprint(ov) == "0") {
				t.Errorf("latency: IG's %v, ig's %v: want both non-zero", rv, ov)
			}
			continue
		}
		if !equalJSON(rv, ov) {
			t.Errorf("%s: IG's %v, ig's %v", name, rv, ov)
		}
	}
	return compared
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// startBoth starts ig and IG's ig on the same gadget, -o json, and waits
// until both show what ready makes happen.
func startBoth(t *testing.T, ref string, gadget []string, ready func(p *proc)) (ours, theirs *proc) {
	t.Helper()
	ours = startIG(t, append(gadget, "-o", "json")...)
	// --host: IG shows only containers' events without it. Its runtimes:
	// whatever this machine runs (IG warns on stderr about those it lacks).
	theirs = startCmd(t, append(append([]string{ref}, gadget...), "--host", "-o", "json")...)
	ready(ours)
	ready(theirs)
	return ours, theirs
}

// TestParityWithIG traces the same open and the same exec with ig and with
// Inspektor Gadget's own ig side by side: every key of IG's event is in
// ig's, and the values they share are equal (the timestamp within 100 ms).
func TestParityWithIG(t *testing.T) {
	igBinary(t)
	ref := refIG(t)

	t.Run("open", func(t *testing.T) {
		dir := t.TempDir()
		ok := filepath.Join(dir, unique("ig-parity-open"))
		missing := filepath.Join(dir, unique("ig-parity-missing"))
		ours, theirs := startBoth(t, ref, []string{"trace", "open"}, func(p *proc) { p.waitOpenJSON(newMarkerFile(t)) })

		// From one locked thread, so that its tid is known.
		runtime.LockOSThread()
		tid := unix.Gettid()
		fd, err := unix.Open(ok, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o640)
		if err != nil {
			runtime.UnlockOSThread()
			t.Fatal(err)
		}
		unix.Close(fd)
		_, err = unix.Open(missing, unix.O_RDONLY, 0)
		runtime.UnlockOSThread()
		if err != unix.ENOENT {
			t.Fatalf("open %s: %v, want ENOENT", missing, err)
		}

		done := newMarkerFile(t)
		ours.waitOpenJSON(done)
		theirs.waitOpenJSON(done)
		ro, rt := ours.stop(sigINT), theirs.stop(sigINT)
		checkSuccess(t, ro)
		oe, te := mapEvents(t, "ig", ro.Stdout), mapEvents(t, "IG's ig", rt.Stdout)
		// What IG's event must have for the comparison to mean something
		// (IG omits zeros: uid 0, flagsRaw 0 of O_RDONLY, fd and err).
		need := map[string][]string{
			ok:      {"pid", "comm", "path", "flags", "flagsRaw", "mode", "modeRaw", "fd", "ret", "type", "gid", "mountnsid"},
			missing: {"pid", "comm", "path", "flags", "err", "ret", "type", "gid", "mountnsid"},
		}
		for _, path := range []string{ok, missing} {
			byPath := func(ev map[string]any) bool { return ev["path"] == path }
			o := oneEvent(t, "ig", "the open of "+path, oe, byPath)
			r := oneEvent(t, "IG's ig", "the open of "+path, te, byPath)
			compared := compareParity(t, r, o, "")
			t.Logf("%s: compared %s", filepath.Base(path), strings.Join(compared, ","))
			// The values compared are those of the open the test made.
			for k, want := range map[string]any{"pid": os.Getpid(), "tid": tid, "type": "normal", "gid": os.Getgid()} {
				if got := o[k]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("ig's %s is %v, want %v", k, got, want)
				}
			}
			for _, k := range need[path] {
				if !slices.Contains(compared, k) {
					t.Errorf("IG's event of the open of %s has no %s: nothing compared", path, k)
				}
			}
		}
	})

	t.Run("open --full-path", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(dir, unique("ig-parity-real"))
		link := filepath.Join(dir, unique("ig-parity-link"))
		if err := os.WriteFile(real, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Base(real), link); err != nil {
			t.Fatal(err)
		}
		ours, theirs := startBoth(t, ref, []string{"trace", "open", "--full-path"}, func(p *proc) { p.waitOpenJSON(newMarkerFile(t)) })
		fd, err := unix.Open(link, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		done := newMarkerFile(t)
		ours.waitOpenJSON(done)
		theirs.waitOpenJSON(done)
		ro, rt := ours.stop(sigINT), theirs.stop(sigINT)
		checkSuccess(t, ro)
		byPath := func(ev map[string]any) bool { return ev["path"] == link }
		o := oneEvent(t, "ig", "the open of "+link, mapEvents(t, "ig", ro.Stdout), byPath)
		r := oneEvent(t, "IG's ig", "the open of "+link, mapEvents(t, "IG's ig", rt.Stdout), byPath)
		compared := compareParity(t, r, o, "")
		t.Logf("compared %s", strings.Join(compared, ","))
		// The symlink resolved: the file's own path.
		if o["fullPath"] != real || !slices.Contains(compared, "fullPath") {
			t.Errorf("ig's fullPath %v, want %s, compared with IG's", o["fullPath"], real)
		}
	})

	t.Run("exec", func(t *testing.T) {
		ours, theirs := startBoth(t, ref, []string{"trace", "exec"}, func(p *proc) { p.waitExecJSON(unique("ig-parity-ready")) })
		args := []string{unique("ig-parity-exec"), "a b", ""}
		pid := runTrue(t, "", args...)
		done := unique("ig-parity-done")
		ours.waitExecJSON(done)
		theirs.waitExecJSON(done)
		ro, rt := ours.stop(sigINT), theirs.stop(sigINT)
		checkSuccess(t, ro)
		match := func(ev map[string]any) bool {
			a, _ := ev["args"].([]any)
			return len(a) > 1 && a[1] == args[0]
		}
		o := oneEvent(t, "ig", "the exec of /bin/true "+args[0], mapEvents(t, "ig", ro.Stdout), match)
		r := oneEvent(t, "IG's ig", "the exec of /bin/true "+args[0], mapEvents(t, "IG's ig", rt.Stdout), match)
		compared := compareParity(t, r, o, "")
		t.Logf("compared %s", strings.Join(compared, ","))
		if fmt.Sprint(o["pid"]) != fmt.Sprint(pid) || fmt.Sprint(o["ppid"]) != fmt.Sprint(os.Getpid()) {
			t.Errorf("ig's pid/ppid %v/%v, want %d/%d", o["pid"], o["ppid"], pid, os.Getpid())
		}
		for _, k := range []string{"pid", "ppid", "comm", "args", "uid", "gid", "upperlayer", "loginuid", "sessionid", "type"} {
			if !slices.Contains(compared, k) {
				t.Errorf("IG's event of the exec has no %s: nothing compared", k)
			}
		}
	})
}

// TestParityWithIGSignalMount is TestParityWithIG for the other gadgets
// IG v0.26.0's ig can run on a host without kprobes: trace signal and trace
// mount (tracepoints). The others need kprobes: igkeys_test.go, at the
// repository's root, checks that ig has their keys.
func TestParityWithIGSignalMount(t *testing.T) {
	igBinary(t)
	ref := refIG(t)

	t.Run("signal", func(t *testing.T) {
		// IG traces signal/signal_generate: kill(pid, 0) sends no signal.
		// SIGWINCH, which sleep ignores, marks the stream's start and end.
		winch := func(pid int) func(p *proc) {
			return func(p *proc) {
				p.waitUntil("SIGWINCH to "+strconv.Itoa(pid), func() { _ = syscall.Kill(pid, syscall.SIGWINCH) },
					streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(pid) && ev.Signal == "SIGWINCH" }))
			}
		}
		ours, theirs := startBoth(t, ref, []string{"trace", "signal"}, winch(sleeper(t).Process.Pid))
		child := sleeper(t)
		if err := syscall.Kill(child.Process.Pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		faulted := segfault(t)
		done := winch(sleeper(t).Process.Pid)
		done(ours)
		done(theirs)
		ro, rt := ours.stop(sigINT), theirs.stop(sigINT)
		checkSuccess(t, ro)
		oe, te := mapEvents(t, "ig", ro.Stdout), mapEvents(t, "IG's ig", rt.Stdout)
		for _, c := range []struct {
			what     string
			sig      string
			tpid     int
			pid      int
			withKill bool // ig's event of a kill(2) names the syscall
		}{
			{"kill(SIGUSR1)", "SIGUSR1", child.Process.Pid, os.Getpid(), true},
			{"the fault's SIGSEGV", "SIGSEGV", faulted, faulted, false},
		} {
			match := func(ev map[string]any) bool {
				return ev["signal"] == c.sig && fmt.Sprint(ev["tpid"]) == strconv.Itoa(c.tpid)
			}
			o := oneEvent(t, "ig", c.what, oe, match)
			r := oneEvent(t, "IG's ig", c.what, te, match)
			compared := compareParity(t, r, o, "")
			t.Logf("%s: compared %s", c.what, strings.Join(compared, ","))
			if fmt.Sprint(o["pid"]) != strconv.Itoa(c.pid) {
				t.Errorf("%s: ig's pid %v, want %d", c.what, o["pid"], c.pid)
			}
			for _, k := range []string{"pid", "comm", "signal", "tpid", "uid", "gid", "mountnsid", "type"} {
				if !slices.Contains(compared, k) {
					t.Errorf("IG's event of %s has no %s: nothing compared", c.what, k)
				}
			}
		}
	})

	t.Run("mount", func(t *testing.T) {
		dir := t.TempDir()
		ours, theirs := startBoth(t, ref, []string{"trace", "mount"}, func(p *proc) { p.waitMountMarker(dir) })
		target := filepath.Join(dir, unique("ig-parity-mnt"))
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		// From one locked thread, so that its tid is known.
		runtime.LockOSThread()
		tid := unix.Gettid()
		err := unix.Mount("ig-parity", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m")
		if err == nil {
			err = unix.Unmount(target, 0)
		}
		// IG keeps 7 bytes of a type: a short one, for equal values.
		bad := unix.Mount("ig-parity-bad", target, "igbadfs", 0, "")
		runtime.UnlockOSThread()
		if err != nil || bad != unix.ENODEV {
			t.Fatalf("mount and umount of a tmpfs: %v; mount of an unknown type: %v, want ENODEV", err, bad)
		}
		ours.waitMountMarker(dir)
		theirs.waitMountMarker(dir)
		ro, rt := ours.stop(sigINT), theirs.stop(sigINT)
		checkSuccess(t, ro)
		oe, te := mapEvents(t, "ig", ro.Stdout), mapEvents(t, "IG's ig", rt.Stdout)
		for _, c := range []struct {
			what, op, source string
			need             []string // what IG's event must have (it omits zeros)
		}{
			// IG v0.26.0 names the flags but leaves flagsRaw 0 (omitted).
			{"the mount", "mount", "ig-parity", []string{"fs", "source", "data", "flags"}},
			{"the umount", "umount", "", nil},
			{"the failed mount", "mount", "ig-parity-bad", []string{"ret", "fs", "source"}},
		} {
			match := func(ev map[string]any) bool {
				src, _ := ev["source"].(string)
				return ev["operation"] == c.op && ev["target"] == target && src == c.source
			}
			o := oneEvent(t, "ig", c.what, oe, match)
			r := oneEvent(t, "IG's ig", c.what, te, match)
			compared := compareParity(t, r, o, "")
			t.Logf("%s: compared %s", c.what, strings.Join(compared, ","))
			if fmt.Sprint(o["pid"]) != strconv.Itoa(os.Getpid()) || fmt.Sprint(o["tid"]) != strconv.Itoa(tid) {
				t.Errorf("%s: ig's pid/tid %v/%v, want %d/%d", c.what, o["pid"], o["tid"], os.Getpid(), tid)
			}
			for _, k := range append([]string{"pid", "tid", "comm", "operation", "target", "latency", "mountnsid", "type"}, c.need...) {
				if !slices.Contains(compared, k) {
					t.Errorf("IG's event of %s has no %s: nothing compared", c.what, k)
				}
			}
		}
	})
}
