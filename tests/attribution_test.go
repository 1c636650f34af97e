package tests

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A container started while ig traces is attributed from its very first
// event (its entrypoint's exec), on every runtime, although runtimes report
// a container a moment after its process starts.
func TestContainerFirstEvents(t *testing.T) {
	runtimesUp(t)
	ig := startIG(t, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("attached"))

	type started struct {
		kind, runtime, name string
		pid                 int
		ns                  uint64
	}
	var all []started
	for _, k := range runtimeKinds {
		name, pid := container(t, k.kind)
		all = append(all, started{k.kind, k.runtime, name, pid, mountNsOf(t, pid)})
	}
	// Once ig shows an exec run in the last one, it has seen the others' starts.
	last := all[len(all)-1]
	marker := unique("settled")
	ig.waitUntil("an exec in "+last.name, func() { inContainer(t, last.kind, last.name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)
	for _, c := range all {
		findOne(t, evs, "the entrypoint of "+c.name, func(ev *execEvent) bool { return ev.Pid == int64(c.pid) && ev.MountNsID == c.ns })
		for _, ev := range evs {
			if ev.MountNsID == c.ns && (ev.Runtime.ContainerName != c.name || ev.Runtime.RuntimeName != c.runtime) {
				t.Errorf("%s: exec %q (pid %d) in its namespace attributed as %+v", c.kind, ev.Args, ev.Pid, ev.Runtime)
			}
		}
	}
}

// The kernel gives a freed mount namespace's number to the next namespace
// made: a host process that unshares right after a container went must not
// carry the container's name.
func TestGoneContainerNamespaceNotReused(t *testing.T) {
	runtimesUp(t)
	unshare := requireTool(t, "/usr/bin/unshare")
	ig := startIG(t, "trace", "exec", "-o", "json")
	name, pid := container(t, "docker")
	ns := mountNsOf(t, pid)
	marker := unique("in")
	ig.waitUntil("an exec in "+name, func() { inContainer(t, "docker", name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool {
			return len(ev.Args) == 2 && ev.Args[1] == marker && ev.Runtime.ContainerName == name
		}))
	stopContainer(t, "docker", name)
	hostMarker := unique("unshared")
	for i := 0; i < 5; i++ {
		if out, err := exec.Command(unshare, "-m", "/bin/true", hostMarker).CombinedOutput(); err != nil {
			t.Fatalf("unshare: %v\n%s", err, out)
		}
	}
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)
	n := 0
	for _, ev := range evs {
		if len(ev.Args) == 2 && ev.Args[1] == hostMarker {
			n++
			if ev.Runtime.ContainerName != "" || ev.Runtime.RuntimeName != "" || ev.MountNsID == ns {
				t.Errorf("a host process in a new namespace (%d) is attributed as %+v; the gone container's was %d", ev.MountNsID, ev.Runtime, ns)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d execs of the unshared /bin/true, want 5", n)
	}
}

// trace exec -c NAME follows its container through a restart (same id, new
// process and namespace) and a redeploy (removed, and a new one under the
// same name), from the first exec after each; --watch shows each as
// removed then added; the host stays out.
func TestFilteredContainerRestartAndRedeploy(t *testing.T) {
	runtimesUp(t)
	docker := requireTool(t, "/usr/bin/docker")
	unshare := requireTool(t, "/usr/bin/unshare")
	name, pid := container(t, "docker")
	watch := startIG(t, "list-containers", "--watch", "-o", "json")
	watch.waitUntil("ADDED "+name, nil, streamMatcher(func(c *containerChange) bool { return c.Event == "ADDED" && c.Name == name }))
	ig := startIG(t, "trace", "exec", "-c", name, "-o", "json")
	first := unique("first")
	ig.waitUntil("an exec in "+name, func() { inContainer(t, "docker", name, "/bin/true", first) },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == first }))

	if out, err := exec.Command(docker, "restart", "-t", "0", name).CombinedOutput(); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, out)
	}
	restarted := unique("restarted")
	inContainer(t, "docker", name, "/bin/true", restarted) // once: it must not be missed
	pidAfterRestart := containerPid(t, "docker", name)
	// --watch polls: a container that lives less than a poll is not seen.
	watch.waitUntil("the restarted "+name+" added", nil, streamMatcher(func(c *containerChange) bool {
		return c.Event == "ADDED" && c.Name == name && c.Pid == pidAfterRestart
	}))

	if out, err := exec.Command("runtimes/run.sh", "start", "docker", name).CombinedOutput(); err != nil {
		t.Fatalf("redeploy %s: %v\n%s", name, err, out)
	}
	redeployed := unique("redeployed")
	inContainer(t, "docker", name, "/bin/true", redeployed)
	pidAfterRedeploy := containerPid(t, "docker", name)

	hostMarker := unique("host")
	runTrue(t, "", hostMarker)
	if out, err := exec.Command(unshare, "-m", "/bin/true", hostMarker).CombinedOutput(); err != nil {
		t.Fatalf("unshare: %v\n%s", err, out)
	}
	ig.waitUntil("the exec after the redeploy", nil, streamMatcher(func(ev *execEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == redeployed
	}))
	watch.waitUntil("the redeployed "+name+" added", nil, streamMatcher(func(c *containerChange) bool {
		return c.Event == "ADDED" && c.Name == name && c.Pid == pidAfterRedeploy
	}))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)
	for _, m := range []string{restarted, redeployed} {
		ev := findOne(t, evs, "the exec of "+m, func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == m })
		if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" {
			t.Errorf("exec %s attributed as %+v", m, ev.Runtime)
		}
	}
	// The restarted and the redeployed container's entrypoints are there too.
	for _, p := range []int{pidAfterRestart, pidAfterRedeploy} {
		findOne(t, evs, "the entrypoint of pid "+strconv.Itoa(p), func(ev *execEvent) bool { return ev.Pid == int64(p) })
	}
	for _, ev := range evs {
		if ev.Runtime.ContainerName != name || strings.Join(ev.Args, " ") == "/bin/true "+hostMarker {
			t.Errorf("-c %s let through %+v (%q)", name, ev.Runtime, ev.Args)
		}
	}

	r = watch.stop(os.Interrupt)
	checkSuccess(t, r)
	var pids []string
	for _, c := range eventsOf[containerChange](t, r.Stdout) {
		if c.Name == name {
			pids = append(pids, c.Event+" "+strconv.Itoa(c.Pid))
		}
	}
	want := []string{"ADDED " + strconv.Itoa(pid), "REMOVED " + strconv.Itoa(pid), "ADDED " + strconv.Itoa(pidAfterRestart),
		"REMOVED " + strconv.Itoa(pidAfterRestart), "ADDED " + strconv.Itoa(pidAfterRedeploy)}
	if strings.Join(pids, ", ") != strings.Join(want, ", ") {
		t.Errorf("--watch showed %s\nwant %s", strings.Join(pids, ", "), strings.Join(want, ", "))
	}
}

// containerPid is the host pid a container's runtime reports for it now.
func containerPid(t *testing.T, kind, name string) int {
	t.Helper()
	out, err := exec.Command("runtimes/run.sh", "pid", kind, name).Output()
	if err != nil {
		t.Fatalf("pid of %s: %v\n%s", name, err, stderrOf(err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("pid of %s: %q", name, out)
	}
	return pid
}

// A CRI pod's sandbox process (its pause) is the pod's, not the host's:
// its events carry the runtime and pod, with no container name; it is not
// listed as a container, and `-c NAME --host` leaves it out with the other
// containers.
func TestPodSandboxAttributed(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "containerd-cri")
	out, err := exec.Command("runtimes/run.sh", "sandbox-pid", "containerd-cri", name).Output()
	if err != nil {
		t.Fatalf("sandbox pid: %v\n%s", err, stderrOf(err))
	}
	sandbox, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("sandbox pid %q", out)
	}
	row := findOne(t, snapshotProcs(t), "the sandbox process", func(ev *commonEvent) bool { return ev.Pid == int64(sandbox) })
	if row.Runtime.RuntimeName != "containerd" || row.Runtime.ContainerName != "" || row.Runtime.ContainerID == "" ||
		row.K8s.PodName != name+"-pod" || row.K8s.Namespace != "default" {
		t.Errorf("the sandbox process is attributed as %+v %+v", row.Runtime, row.K8s)
	}
	for _, c := range listContainers(t) {
		if c.Pid == sandbox {
			t.Errorf("the sandbox is listed as a container: %+v", c)
		}
	}
	for _, ev := range snapshotProcs(t, "-c", name, "--host") {
		if ev.Pid == int64(sandbox) {
			t.Errorf("-c %s --host shows the pod's sandbox process", name)
		}
	}
}

// A namespace number that a host process's namespace had, which ig saw and
// found to be no container's, may be the next container's: that container
// is attributed, and `-c` catches it, from its first exec.
func TestReusedNamespaceNumberForNewContainer(t *testing.T) {
	runtimesUp(t)
	unshare := requireTool(t, "/usr/bin/unshare")
	name, _ := container(t, "docker")
	all := startIG(t, "trace", "exec", "-o", "json")
	one := startIG(t, "trace", "exec", "-c", name, "-o", "json")
	marker := unique("in")
	one.waitUntil("an exec in "+name, func() { inContainer(t, "docker", name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
	stopContainer(t, "docker", name)

	// A host process in a namespace of its own, seen by both igs (the -c
	// one decides it is not wanted and tells its kernel filter so).
	hostMarker := unique("unshared")
	out, err := exec.Command(unshare, "-m", "sh", "-c", "readlink /proc/self/ns/mnt; /bin/true "+hostMarker+"; sleep 1").Output()
	if err != nil {
		t.Fatalf("unshare: %v", err)
	}
	hostNs := strings.TrimSpace(string(out))
	all.waitUntil("the unshared exec", nil, streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == hostMarker }))

	// Its number is free again: the next namespace made is likely to get it.
	redeployed, err := exec.Command("runtimes/run.sh", "start", "docker", name).Output()
	if err != nil {
		t.Fatalf("redeploy %s: %v\n%s", name, err, stderrOf(err))
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(redeployed)))
	ns := mountNsOf(t, pid)
	t.Logf("the unshared process had %s, the redeployed container has mnt:[%d]", hostNs, ns)
	after := unique("after")
	inContainer(t, "docker", name, "/bin/true", after)
	for _, ig := range []*proc{all, one} {
		ig.waitUntil("the exec after the redeploy", nil, streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == after }))
	}
	for what, ig := range map[string]*proc{"trace exec": all, "trace exec -c": one} {
		r := ig.stop(os.Interrupt)
		checkSuccess(t, r)
		evs := eventsOf[execEvent](t, r.Stdout)
		ev := findOne(t, evs, what+": the redeployed container's entrypoint", func(ev *execEvent) bool { return ev.Pid == int64(pid) })
		if ev.Runtime.ContainerName != name {
			t.Errorf("%s: the redeployed container's entrypoint is attributed as %+v", what, ev.Runtime)
		}
	}
}

// A runtime that answers its ping and then hangs (a stuck podman service)
// holds up neither attribution through the others nor the trace; ig says
// once that it does not answer.
func TestHangingRuntime(t *testing.T) {
	env := runtimesUp(t)
	release := make(chan struct{})
	dir := t.TempDir()
	sock := dir + "/podman.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Write([]byte("OK"))
			return
		}
		select { // hang
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { close(release); srv.Close() })

	ig := startIG(t, "--podman-socketpath", env["PODMAN_SOCK"], "--podman-socketpath", sock, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("attached"))
	name, pid := container(t, "docker")
	marker := unique("in")
	ig.waitUntil("an exec in "+name, func() { inContainer(t, "docker", name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r, regexp.MustCompile(`^ig: podman: `+regexp.QuoteMeta(sock)+`: .*no answer within`))
	ev := findOne(t, eventsOf[execEvent](t, r.Stdout), "the entrypoint of "+name, func(ev *execEvent) bool { return ev.Pid == int64(pid) })
	if ev.Runtime.ContainerName != name {
		t.Errorf("with a hanging runtime beside, the entrypoint of %s is attributed as %+v", name, ev.Runtime)
	}
	if n := strings.Count(string(r.Stderr), sock); n != 1 || !strings.Contains(string(r.Stderr), "no answer within") {
		t.Errorf("stderr says %d times that %s does not answer:\n%s", n, sock, r.Stderr)
	}
}
