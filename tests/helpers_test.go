package tests

// Shared machinery of the integration tests: the IG_INTEGRATION gate,
// starting and stopping ig, waiting until it is attached (marker events),
// parsing its JSON output into typed events, and bpftool/strace helpers.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tests/syncbuf"
)

const (
	attachTimeout = 20 * time.Second // ig started until its first marker event
	stopTimeout   = 15 * time.Second // signal (or -t) until ig has exited
	pollEvery     = 100 * time.Millisecond
)

// igBinary gates every test: it skips without IG_INTEGRATION, and fails when
// IG_INTEGRATION is set but something the tests need is missing.
func igBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("IG_INTEGRATION") == "" {
		t.Skip("integration test of the real ig binary: skipped unless IG_INTEGRATION=1 (run `make integration` as root, or IG_INTEGRATION=1 IG_BINARY=/path/to/ig go test ./tests/...)")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("IG_INTEGRATION is set but the tests run as uid %d: they load eBPF programs and need root", os.Geteuid())
	}
	bin := os.Getenv("IG_BINARY")
	if bin == "" {
		t.Fatal("IG_INTEGRATION is set but IG_BINARY is not: set it to the ig binary under test (absolute path, built with `make ig`)")
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatalf("IG_BINARY: %v", err)
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		t.Fatalf("IG_BINARY=%s is not an executable file", bin)
	}
	return bin
}

// requireTool fails (integration mode) when a host tool the test needs is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("this integration test needs %s on the host: %v", name, err)
	}
	return p
}

// unique returns prefix plus a random suffix, so that parallel noise on the
// host never matches what a test looks for.
func unique(prefix string) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// testComm is this test binary's comm: the first 15 bytes of its file name,
// as the kernel keeps it (and /proc/self/comm shows it).
func testComm(t *testing.T) string {
	t.Helper()
	name := filepath.Base(os.Args[0])
	if len(name) > 15 {
		name = name[:15]
	}
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(string(b), "\n"); got != name {
		t.Fatalf("/proc/self/comm is %q, want %q (from %s)", got, name, os.Args[0])
	}
	return name
}

// mountNsID is the inode number of this process's mount namespace.
func mountNsID(t *testing.T) uint64 {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	if _, err := fmt.Sscanf(l, "mnt:[%d]", &id); err != nil {
		t.Fatalf("parse %q: %v", l, err)
	}
	return id
}

// --- running ig ---

// proc is a running ig (or a command wrapping it).
type proc struct {
	t      *testing.T
	argv   []string
	cmd    *exec.Cmd
	stdout syncbuf.Buffer
	stderr syncbuf.Buffer
	done   chan struct{}
}

// result is how a command ended.
type result struct {
	Argv   []string
	Stdout []byte
	Stderr []byte
	Code   int // exit code; -1 when killed by a signal
}

func (r result) String() string {
	return fmt.Sprintf("`%s`: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Argv, " "), r.Code, tail(r.Stdout), r.Stderr)
}

// tail keeps error messages readable when ig printed a lot.
func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		return "[...]" + string(b[len(b)-max:])
	}
	return string(b)
}

// startCmd starts argv; the test's cleanup stops it if the test did not.
func startCmd(t *testing.T, argv ...string) *proc {
	t.Helper()
	return startCmdStdout(t, nil, argv...)
}

// startCmdStdout is startCmd with the command's stdout sent to stdout instead
// of p.stdout (unless it is nil), e.g. to a pipe the test reads at its pace.
func startCmdStdout(t *testing.T, stdout io.Writer, argv ...string) *proc {
	t.Helper()
	p := &proc{t: t, argv: argv, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = &p.stdout
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// startIG starts ig with args.
func startIG(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCmd(t, append([]string{igBinary(t)}, args...)...)
}

// runIG runs ig with args to its end.
func runIG(t *testing.T, args ...string) result {
	t.Helper()
	return startIG(t, args...).wait()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the command to end by itself (ig -t, or an error).
func (p *proc) wait() result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("`%s` still running %v after it should have ended; killed it. stderr:\n%s",
			strings.Join(p.argv, " "), stopTimeout, p.stderr.Bytes())
	}
	return result{Argv: p.argv, Stdout: p.stdout.Bytes(), Stderr: p.stderr.Bytes(), Code: p.cmd.ProcessState.ExitCode()}
}

// stop sends sig (SIGINT, SIGTERM) and waits for the command to end.
func (p *proc) stop(sig os.Signal) result {
	p.t.Helper()
	if !p.exited() {
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.t.Fatalf("signal %v: %v", sig, err)
		}
	}
	return p.wait()
}

// waitUntil calls trigger, then found on ig's stdout so far, every pollEvery
// until found says yes. It fails the test when ig exits first or time runs out.
func (p *proc) waitUntil(what string, trigger func(), found func(stdout []byte) bool) {
	p.t.Helper()
	deadline := time.Now().Add(attachTimeout)
	for {
		if trigger != nil {
			trigger()
		}
		if found(p.stdout.Bytes()) {
			return
		}
		if p.exited() {
			if found(p.stdout.Bytes()) {
				return
			}
			r := p.wait()
			p.t.Fatalf("ig ended before it showed %s: %s", what, r)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("`%s` did not show %s within %v\nstdout:\n%s\nstderr:\n%s",
				strings.Join(p.argv, " "), what, attachTimeout, tail(p.stdout.Bytes()), p.stderr.Bytes())
		}
		time.Sleep(pollEvery)
	}
}

// --- JSON output ---

// jsonLines parses -o json output of an ig that has ended: every line must be
// exactly one JSON object, and the output must end with a newline.
func jsonLines(t *testing.T, out []byte) []json.RawMessage {
	t.Helper()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Fatalf("-o json output does not end with a newline: ...%q", tail(out))
	}
	var objs []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
			t.Fatalf("-o json line %d is not one JSON object: %q", n, sc.Bytes())
		}
		objs = append(objs, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return objs
}

// jsonObjects decodes the output of an ig that has ended as a stream of JSON
// objects (-o json or jsonpretty).
func jsonObjects(out []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	var objs []json.RawMessage
	for {
		var m json.RawMessage
		err := dec.Decode(&m)
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return objs, fmt.Errorf("JSON value %d: %w", len(objs)+1, err)
		}
		if len(m) == 0 || m[0] != '{' {
			return objs, fmt.Errorf("JSON value %d is not an object: %.100s", len(objs)+1, m)
		}
		objs = append(objs, m)
	}
}

// commonEvent is what every ig event carries (tracers.Event), as JSON.
type commonEvent struct {
	Runtime struct {
		RuntimeName        string `json:"runtimeName"`
		ContainerID        string `json:"containerId"`
		ContainerName      string `json:"containerName"`
		ContainerImageName string `json:"containerImageName"`
	} `json:"runtime"`
	K8s struct {
		Namespace     string `json:"namespace"`
		PodName       string `json:"podName"`
		ContainerName string `json:"containerName"`
	} `json:"k8s"`
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"` // IG's: "normal" for every event
	MountNsID uint64 `json:"mountnsid"`
	Pid       int64  `json:"pid"`
	Tid       int64  `json:"tid"`
	Ppid      int64  `json:"ppid"`
	Uid       int64  `json:"uid"`
	Gid       int64  `json:"gid"`
	Comm      string `json:"comm"`
	Pcomm     string `json:"pcomm"` // the parent's comm
	User      string `json:"user"`  // uid's name on the host
	Group     string `json:"group"` // gid's name on the host
}

// openEvent is a trace open event, as JSON.
type openEvent struct {
	commonEvent
	Ret           int64    `json:"ret"`
	Fd            int64    `json:"fd"`
	Err           int64    `json:"err"`
	Error         string   `json:"error"`
	Flags         []string `json:"flags"`
	FlagsRaw      int64    `json:"flagsRaw"`
	Mode          string   `json:"mode"`
	ModeRaw       int64    `json:"modeRaw"`
	Path          string   `json:"path"`
	PathTruncated bool     `json:"pathTruncated"`
}

// execEvent is a trace exec event, as JSON.
type execEvent struct {
	commonEvent
	Ret              int64    `json:"ret"`
	Err              int64    `json:"err"`
	Error            string   `json:"error"`
	Args             []string `json:"args"`
	ArgsTruncated    bool     `json:"argsTruncated"`
	ExePath          string   `json:"exepath"`
	ExePathTruncated bool     `json:"exepathTruncated"`
	Cwd              string   `json:"cwd"`
	CwdTruncated     bool     `json:"cwdTruncated"`
	// IG's (v0.26 to v0.41)
	Ptid                   int64  `json:"ptid"`
	UpperLayer             bool   `json:"upperlayer"`
	PupperLayer            bool   `json:"pupperlayer"`
	LoginUid               int64  `json:"loginuid"`
	SessionId              int64  `json:"sessionid"`
	ParentExePath          string `json:"parent_exepath"`
	ParentExePathTruncated bool   `json:"parent_exepathTruncated"`
	// IG's (v0.41): the file asked to run
	File          string `json:"file"`
	FileTruncated bool   `json:"fileTruncated"`
	FupperLayer   bool   `json:"fupper_layer"`
	DevMajor      int64  `json:"dev_major"`
	DevMinor      int64  `json:"dev_minor"`
	Inode         uint64 `json:"inode"`
}

// jsonKeys lists the JSON names of T's fields, embedded structs included.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			keys = append(keys, jsonKeys(f.Type)...)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// commonTypeOnly says whether T's "type" is commonEvent's, IG's "normal".
func commonTypeOnly(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); !f.Anonymous && f.Tag.Get("json") == "type" {
			return false
		}
	}
	return slices.Contains(jsonKeys(t), "type")
}

// decodeEvent decodes one event, requiring every field of T to be present:
// a missing "fd" must not pass for fd 0.
func decodeEvent[T any](raw json.RawMessage) (T, error) {
	var ev T
	var present map[string]json.RawMessage
	if err := json.Unmarshal(raw, &present); err != nil {
		return ev, err
	}
	var missing []string
	for _, k := range jsonKeys(reflect.TypeFor[T]()) {
		if _, ok := present[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return ev, fmt.Errorf("event lacks %s: %s", strings.Join(missing, ", "), raw)
	}
	// IG's type of an event, but for gadgets with a type of their own
	// (tcpretrans, snapshot socket), which shadows it as in IG.
	if typ, ok := present["type"]; ok && commonTypeOnly(reflect.TypeFor[T]()) && string(typ) != `"normal"` {
		return ev, fmt.Errorf("event's type is %s, not IG's \"normal\": %s", typ, raw)
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("%w: %s", err, raw)
	}
	return ev, nil
}

// decodeAll decodes every object as a T, failing the test on any bad one.
func decodeAll[T any](t *testing.T, objs []json.RawMessage) []T {
	t.Helper()
	evs := make([]T, 0, len(objs))
	for _, o := range objs {
		ev, err := decodeEvent[T](o)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// eventsOf parses the -o json output of an ig that has ended.
func eventsOf[T any](t *testing.T, stdout []byte) []T {
	t.Helper()
	return decodeAll[T](t, jsonLines(t, stdout))
}

// streamMatcher returns a found function for waitUntil: whether ig's JSON
// output (json or jsonpretty) so far holds an event match accepts. It reads
// each object once, however much ig prints while the test waits.
func streamMatcher[T any](match func(*T) bool) func(stdout []byte) bool {
	done := 0 // bytes of stdout already decoded
	return func(out []byte) bool {
		dec := json.NewDecoder(bytes.NewReader(out[done:]))
		base := done
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return false // the end, or an object ig is still writing
			}
			done = base + int(dec.InputOffset())
			var ev T
			if json.Unmarshal(raw, &ev) == nil && match(&ev) {
				return true
			}
		}
	}
}

// findOne returns the single event match accepts; zero or several fail the test.
func findOne[T any](t *testing.T, evs []T, what string, match func(*T) bool) T {
	t.Helper()
	var found []T
	for i := range evs {
		if match(&evs[i]) {
			found = append(found, evs[i])
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one event for %s among %d events, got %d: %+v", what, len(evs), len(found), found)
	}
	return found[0]
}

// countOf counts the events match accepts.
func countOf[T any](evs []T, match func(*T) bool) int {
	n := 0
	for i := range evs {
		if match(&evs[i]) {
			n++
		}
	}
	return n
}

// --- markers: proof that ig is attached, and that it has seen everything before ---

// tryOpen opens path read-only (it need not exist) and closes it.
func tryOpen(path string) {
	if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(fd)
	}
}

// newMarkerFile creates a unique empty file to open as a marker.
func newMarkerFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), unique("ig-marker"))
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// missingPath is a unique path that does not exist (opening it fails ENOENT).
func missingPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), unique("ig-missing"))
}

// waitOpenJSON opens path until ig (-o json or jsonpretty) reports it.
// Opened before the events a test asserts, it proves ig is attached; opened
// after them, it proves ig has read everything that came before (events of
// one thread reach the ring buffer in order).
func (p *proc) waitOpenJSON(path string) {
	p.t.Helper()
	p.waitUntil("an open of "+path, func() { tryOpen(path) },
		streamMatcher(func(ev *openEvent) bool { return ev.Path == path }))
}

// waitOpenRow does the same in columns mode: a row whose last column is path.
func (p *proc) waitOpenRow(path string) {
	p.t.Helper()
	p.waitUntil("a row for "+path, func() { tryOpen(path) },
		func(out []byte) bool { return rowWithPath(out, path) != nil })
}

// rowWithPath returns the fields of the first complete output line whose last
// field is path, or nil.
func rowWithPath(out []byte, path string) []string {
	for _, line := range completeLines(out) {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == path {
			return f
		}
	}
	return nil
}

// completeLines splits output into the lines that end with a newline.
func completeLines(out []byte) []string {
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		return strings.Split(string(out[:i]), "\n")
	}
	return nil
}

// runTrue runs /bin/true with args as a child of the test, and returns its pid.
func runTrue(t *testing.T, dir string, args ...string) int {
	t.Helper()
	cmd := exec.Command("/bin/true", args...)
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		t.Fatalf("/bin/true %q: %v", args, err)
	}
	return cmd.ProcessState.Pid()
}

// waitExecJSON runs /bin/true marker until ig (trace exec -o json) reports it.
func (p *proc) waitExecJSON(marker string) {
	p.t.Helper()
	p.waitExecOf("/bin/true", marker)
}

// waitExecOf runs exe marker (exe may be missing: a failed exec) until ig
// (trace exec -o json) reports it.
func (p *proc) waitExecOf(exe, marker string) {
	p.t.Helper()
	p.waitUntil("an exec of "+exe+" "+marker, func() { _ = exec.Command(exe, marker).Run() },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
}

// --- a process of other ids ---

// otherUID and otherGID are a non-root uid and a different non-root gid:
// events of a process run with them show a uid or gid that is swapped,
// zeroed or taken from the wrong place.
const (
	otherUID = 4321
	otherGID = 8765
)

// asOtherIDs makes cmd run as otherUID:otherGID, with no supplementary groups.
func asOtherIDs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherGID, Groups: []uint32{}}}
}

// runAsOther runs argv as otherUID:otherGID to its end, and returns its pid.
func runAsOther(t *testing.T, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	asOtherIDs(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q as %d:%d: %v\n%s", argv, otherUID, otherGID, err, out)
	}
	return cmd.ProcessState.Pid()
}

// checkOtherIDs checks the uid and gid of an event of a process run as
// otherUID:otherGID.
func checkOtherIDs(t *testing.T, what string, ev commonEvent) {
	t.Helper()
	if ev.Uid != otherUID || ev.Gid != otherGID {
		t.Errorf("%s: uid/gid %d/%d, want %d/%d", what, ev.Uid, ev.Gid, otherUID, otherGID)
	}
	if ev.User != "" || ev.Group != "" { // ids the host does not name
		t.Errorf("%s: user/group %q/%q, want none for %d/%d", what, ev.User, ev.Group, otherUID, otherGID)
	}
}

// --- assertions ---

// checkFailure checks the way ig must fail: exit code != 0, exactly one line
// on stderr starting with "ig: ", nothing on stdout, and no Go panic.
// It returns the message.
func checkFailure(t *testing.T, r result) string {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("want a non-zero exit code: %s", r)
	}
	if r.Code < 0 {
		t.Errorf("ig was killed by a signal: %s", r)
	}
	for _, out := range [][]byte{r.Stdout, r.Stderr} {
		if bytes.Contains(out, []byte("panic")) || bytes.Contains(out, []byte("goroutine ")) {
			t.Errorf("Go panic or stack trace in the output: %s", r)
		}
	}
	msg := string(r.Stderr)
	if !strings.HasSuffix(msg, "\n") || strings.Count(msg, "\n") != 1 {
		t.Errorf("want exactly one line on stderr: %s", r)
	}
	msg = strings.TrimSuffix(msg, "\n")
	if !strings.HasPrefix(msg, "ig: ") {
		t.Errorf("stderr does not start with \"ig: \": %s", r)
	}
	if len(r.Stdout) != 0 {
		t.Errorf("want nothing on stdout when ig fails: %s", r)
	}
	return msg
}

// troubleRe marks a -v line that is no mere note: trouble ig ran into.
var troubleRe = regexp.MustCompile(`(?i)panic|goroutine |error|warn|fail|lost [1-9]`)

// slowRuntimeRe is ig saying that a real runtime was slow to answer, and
// then that it answers again. In TestHangingRuntime, about one run in two,
// containerd has been seen taking more than 3 s to list its containers while
// dockerd starts one (not reproduced outside the test); ig is right to say
// so, and TestHangingRuntime checks the saying itself.
var slowRuntimeRe = regexp.MustCompile(`^ig: (docker|containerd|cri-o|podman): \S+(: no answer within \d+s; its containers are kept as they were until it answers| answers again)$`)

// checkSuccess checks an ig run that must have ended well: exit code 0, and
// nothing on stderr that the test does not expect. Each stderr line must
// match one of allowed (or slowRuntimeRe); with -v (in r.Argv), any other
// line must be one of ig's notes ("ig: ...") that tells of no trouble
// (troubleRe). So checkSuccess(t, r) is the strict form: a quiet run prints
// nothing else on stderr.
func checkSuccess(t *testing.T, r result, allowed ...*regexp.Regexp) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("want exit code 0: %s", r)
	}
	allowed = append(allowed, slowRuntimeRe)
	verbose := slices.Contains(r.Argv, "-v") || slices.Contains(r.Argv, "--verbose")
	for _, line := range strings.SplitAfter(string(r.Stderr), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			t.Errorf("stderr ends in a partial line %q: %s", line, r)
		}
		line = strings.TrimSuffix(line, "\n")
		if slices.ContainsFunc(allowed, func(re *regexp.Regexp) bool { return re.MatchString(line) }) {
			continue
		}
		switch {
		case !verbose:
			t.Errorf("unexpected line on stderr: %q\n%s", line, r)
		case !strings.HasPrefix(line, "ig: ") || troubleRe.MatchString(line):
			t.Errorf("unexpected line on stderr under -v (not a note of ig's, or one of trouble): %q\n%s", line, r)
		}
	}
}

// checkNear checks that an event's wall-clock timestamp (ns) lies within
// [from, to], with a second of slack for clock conversion.
func checkNear(t *testing.T, what string, ts int64, from, to time.Time) {
	t.Helper()
	if ts < from.Add(-time.Second).UnixNano() || ts > to.Add(time.Second).UnixNano() {
		t.Errorf("%s: timestamp %d (%v) not within the test's [%v, %v]", what, ts, time.Unix(0, ts), from, to)
	}
}

// sameSet says whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
		if m[s] < 0 {
			return false
		}
	}
	return true
}

// --- bpftool ---

// bpfProg is one entry of `bpftool prog list -j`.
type bpfProg struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	MapIDs []int  `json:"map_ids"`
}

// bpfLink is one entry of `bpftool link list -j`.
type bpfLink struct {
	ID     int    `json:"id"`
	Type   string `json:"type"`
	ProgID int    `json:"prog_id"`
}

// bpfMap is one entry of `bpftool map list -j`.
type bpfMap struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	MaxEntries int    `json:"max_entries"`
}

// bpftool runs `bpftool <object> list -j` and decodes its answer into v.
func bpftool(t *testing.T, object string, v any) {
	t.Helper()
	out, err := exec.Command(requireTool(t, "bpftool"), object, "list", "-j").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("bpftool %s list -j: %v", object, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("bpftool %s list -j: %v: %.500s", object, err, out)
	}
}

// bpfState is the kernel's eBPF objects at one moment.
type bpfState struct {
	progs map[int]bpfProg
	links map[int]bpfLink
	maps  map[int]bpfMap
	btfs  map[int]bool
}

func snapshotBPF(t *testing.T) bpfState {
	t.Helper()
	var progs []bpfProg
	var links []bpfLink
	var maps []bpfMap
	bpftool(t, "prog", &progs)
	bpftool(t, "link", &links)
	bpftool(t, "map", &maps)
	var btfs []struct {
		ID int `json:"id"`
	}
	bpftool(t, "btf", &btfs)
	s := bpfState{progs: map[int]bpfProg{}, links: map[int]bpfLink{}, maps: map[int]bpfMap{}, btfs: map[int]bool{}}
	for _, b := range btfs {
		s.btfs[b.ID] = true
	}
	for _, p := range progs {
		s.progs[p.ID] = p
	}
	for _, l := range links {
		s.links[l.ID] = l
	}
	for _, m := range maps {
		s.maps[m.ID] = m
	}
	return s
}

// has says whether the object of kind ("prog", "link", "map", "btf") exists.
func (s bpfState) has(kind string, id int) bool {
	switch kind {
	case "prog":
		_, ok := s.progs[id]
		return ok
	case "link":
		_, ok := s.links[id]
		return ok
	case "map":
		_, ok := s.maps[id]
		return ok
	case "btf":
		return s.btfs[id]
	}
	return false
}

// progIDsNamed returns the ids of the programs whose name is in names.
func (s bpfState) progIDsNamed(names []string) []int {
	var ids []int
	for id, p := range s.progs {
		for _, n := range names {
			if p.Name == n {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// bpfIDs is a set of eBPF object ids by kind: "prog", "link", "map", "btf".
type bpfIDs map[string]map[int]bool

// heldBy lists the eBPF objects process pid holds file descriptors to, read
// from /proc/PID/fdinfo (a link's program counts as held too).
func heldBy(pid int) (bpfIDs, error) {
	ids := bpfIDs{"prog": {}, "link": {}, "map": {}, "btf": {}}
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			kind, isID := strings.CutSuffix(k, "_id")
			if !ok || !isID || ids[kind] == nil {
				continue
			}
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				ids[kind][n] = true
			}
		}
	}
	return ids, nil
}

// progHolders lists the processes that hold program id open.
func progHolders(id int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if held, err := heldBy(pid); err == nil && held["prog"][id] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// --- strace: which eBPF programs a command loads ---

var progNameRe = regexp.MustCompile(`prog_name="([^"]*)"`)

// bpfProgLoads runs ig args under strace and returns the names of the eBPF
// programs it asked the kernel to load (BPF_PROG_LOAD), and how ig ended.
// An attempt counts, whether the kernel accepted the program or not.
func bpfProgLoads(t *testing.T, args ...string) ([]string, result) {
	t.Helper()
	strace := requireTool(t, "strace")
	log := filepath.Join(t.TempDir(), "strace.log")
	argv := append([]string{strace, "-f", "-qq", "-e", "trace=bpf", "-e", "signal=none", "-o", log, "--", igBinary(t)}, args...)
	r := startCmd(t, argv...).wait()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("strace log: %v (%s)", err, r)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "bpf(BPF_PROG_LOAD") {
			continue
		}
		if m := progNameRe.FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		} else {
			t.Fatalf("strace shows a BPF_PROG_LOAD without prog_name: %s", line)
		}
	}
	// strace passes the traced command's exit code on; keep ig's argv in reports.
	r.Argv = argv
	return names, r
}

// signals by name, for subtests.
var (
	sigINT  os.Signal = syscall.SIGINT
	sigTERM os.Signal = syscall.SIGTERM
)
