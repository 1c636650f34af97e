package tests

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The runtimes are brought up by tests/runtimes/up.sh (run by .ci/run);
// tests/runtimes/run.sh starts, execs in and stops containers on each.
const runtimesEnv = "/var/tmp/ig-test-runtimes/env"

// runtimeKinds are the ways a container is started, and the runtime ig must
// attribute it to.
var runtimeKinds = []struct {
	kind, runtime string
	pod           bool // a CRI pod: ig shows its pod and namespace
}{
	{"docker", "docker", false},
	{"podman", "podman", false},
	{"podman-rootless", "podman", false},
	{"containerd", "containerd", false},
	{"containerd-cri", "containerd", true},
	{"cri-o", "cri-o", true},
}

// containerRow is a row of `ig list-containers -o json`.
type containerRow struct {
	Runtime   string `json:"runtime"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Image     string `json:"image"`
	Pid       int    `json:"pid"`
	MountNsID uint64 `json:"mountnsid"`
	NetNsID   uint64 `json:"netnsid"`
	OwnerUID  uint32 `json:"ownerUid"`
	Namespace string `json:"namespace"`
	PodName   string `json:"podName"`
}

// containerChange is a line of `ig list-containers --watch -o json`.
type containerChange struct {
	Event string `json:"event"`
	containerRow
}

// runtimesUp fails the test when the runtimes are not up: they must be, in CI.
func runtimesUp(t *testing.T) map[string]string {
	t.Helper()
	igBinary(t)
	f, err := os.Open(runtimesEnv)
	if err != nil {
		t.Fatalf("container runtimes are not up (%v): run tests/runtimes/up.sh first", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[strings.TrimPrefix(k, "export ")] = strings.Trim(v, `"'`)
		}
	}
	return env
}

// container starts a long-running container of kind and returns its name
// and the host pid its runtime reports; the test's cleanup removes it.
func container(t *testing.T, kind string) (string, int) {
	t.Helper()
	return containerWith(t, kind, "")
}

// containerWith is container with more options for docker or podman run
// (runOpts: "--security-opt seccomp=FILE").
func containerWith(t *testing.T, kind, runOpts string) (string, int) {
	t.Helper()
	name := unique("igt-" + strings.ReplaceAll(kind, "-", ""))
	cmd := exec.Command("runtimes/run.sh", "start", kind, name)
	cmd.Env = append(os.Environ(), "RUN_OPTS="+runOpts)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start a %s container: %v\n%s", kind, err, stderrOf(err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("start a %s container: no pid in %q", kind, out)
	}
	t.Cleanup(func() { _ = exec.Command("runtimes/run.sh", "stop", kind, name).Run() })
	return name, pid
}

// inContainer runs argv in the container.
func inContainer(t *testing.T, kind, name string, argv ...string) {
	t.Helper()
	if out, err := exec.Command("runtimes/run.sh", append([]string{"exec", kind, name}, argv...)...).CombinedOutput(); err != nil {
		t.Fatalf("exec in %s container %s: %v\n%s", kind, name, err, out)
	}
}

// outputIn runs argv in the container and returns its output.
func outputIn(t *testing.T, kind, name string, argv ...string) string {
	t.Helper()
	out, err := exec.Command("runtimes/run.sh", append([]string{"exec", kind, name}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("exec in %s container %s: %v\n%s", kind, name, err, out)
	}
	return string(out)
}

func stopContainer(t *testing.T, kind, name string) {
	t.Helper()
	if out, err := exec.Command("runtimes/run.sh", "stop", kind, name).CombinedOutput(); err != nil {
		t.Fatalf("stop %s container %s: %v\n%s", kind, name, err, out)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func listContainers(t *testing.T, args ...string) []containerRow {
	t.Helper()
	r := runIG(t, append(args, "list-containers", "-o", "json")...)
	checkSuccess(t, r)
	var rows []containerRow
	if err := json.Unmarshal(r.Stdout, &rows); err != nil {
		t.Fatalf("list-containers -o json: %v\n%s", err, r.Stdout)
	}
	return rows
}

func TestContainers(t *testing.T) {
	env := runtimesUp(t)
	if env["IMG_PAUSE"] == "" {
		t.Fatalf("%s does not name IMG_PAUSE, the image of run.sh's containers", runtimesEnv)
	}
	for _, k := range runtimeKinds {
		t.Run(k.kind, func(t *testing.T) {
			watch := startIG(t, "list-containers", "--watch", "-o", "json", "-v")
			watch.waitUntil("the watch to start", nil, func([]byte) bool {
				return strings.Contains(string(watch.stderr.Bytes()), "ig: watching containers")
			})
			name, pid := container(t, k.kind)
			watch.waitUntil("ADDED "+name, nil, streamMatcher(func(c *containerChange) bool {
				return c.Event == "ADDED" && c.Name == name && c.Pid == pid && c.Runtime == k.runtime
			}))
			ns := mountNsOf(t, pid)

			// Listed once, under its runtime, with the pid the runtime reports.
			row := findOne(t, listContainers(t), name, func(c *containerRow) bool { return c.Name == name })
			// Every kind runs run.sh's image, $IMG_PAUSE.
			netns := netNsOf(t, pid)
			if row.Runtime != k.runtime || row.Pid != pid || row.MountNsID != ns || row.NetNsID != netns || row.ID == "" || row.Image != env["IMG_PAUSE"] {
				t.Errorf("listed as %+v; want runtime %s, pid %d, mntns %d, netns %d, image %q", row, k.runtime, pid, ns, netns, env["IMG_PAUSE"])
			}
			if k.pod && (row.PodName == "" || row.Namespace != "default") {
				t.Errorf("pod fields %+v", row)
			}
			if k.kind == "podman-rootless" {
				if strconv.Itoa(int(row.OwnerUID)) != env["RL_UID"] {
					t.Errorf("owner %d, want the rootless user %s", row.OwnerUID, env["RL_UID"])
				}
				// The seed's command, with the user's own socket.
				rows := listContainers(t, "-r", "podman", "--podman-socketpath", env["PODMAN_ROOTLESS_SOCK"])
				findOne(t, rows, name, func(c *containerRow) bool { return c.Name == name && c.Pid == pid })
			}

			// trace exec -c catches a command run in it, and not the host's.
			marker, hostMarker := unique("in-"+k.kind), unique("host")
			ig := startIG(t, "trace", "exec", "-c", name, "-o", "json")
			ig.waitUntil("an exec in container "+name, func() { inContainer(t, k.kind, name, "/bin/true", marker) },
				streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
			hostPid := runTrue(t, "", hostMarker)
			inContainer(t, k.kind, name, "/bin/true", marker+"-2")
			ig.waitUntil("a second exec in container "+name, nil,
				streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker+"-2" }))
			r := ig.stop(os.Interrupt)
			checkSuccess(t, r)
			evs := eventsOf[execEvent](t, r.Stdout)
			ev := findOne(t, evs, "the exec of "+marker+"-2", func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker+"-2" })
			if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != k.runtime || ev.Runtime.ContainerID != row.ID ||
				ev.Ret != 0 || ev.Comm != "true" || uint64(ev.MountNsID) != ns {
				t.Errorf("exec in %s attributed as %+v", name, ev)
			}
			if ev.Runtime.ContainerImageName != row.Image {
				t.Errorf("exec in %s: containerImageName %q, want %q as list-containers shows it", name, ev.Runtime.ContainerImageName, row.Image)
			}
			if k.pod && (ev.K8s.PodName != row.PodName || ev.K8s.Namespace != "default" || ev.K8s.ContainerName != name) {
				t.Errorf("k8s fields %+v", ev.K8s)
			}
			for _, e := range evs {
				if e.Runtime.ContainerName != name || e.Pid == int64(hostPid) {
					t.Errorf("-c %s let through %+v", name, e)
				}
			}

			stopContainer(t, k.kind, name)
			watch.waitUntil("REMOVED "+name, nil, streamMatcher(func(c *containerChange) bool {
				return c.Event == "REMOVED" && c.Name == name && c.Runtime == k.runtime
			}))
			checkSuccess(t, watch.stop(os.Interrupt))
		})
	}
}

// A container started after ig attributes correctly with no filter, the
// host's processes show with no container, and a container's last events
// before it exits keep its name.
func TestContainerStartedLater(t *testing.T) {
	runtimesUp(t)
	ig := startIG(t, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("attached"))

	name, _ := container(t, "docker")
	marker := unique("late")
	ig.waitUntil("an exec in the new container", func() { inContainer(t, "docker", name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool {
			return len(ev.Args) == 2 && ev.Args[1] == marker && ev.Runtime.ContainerName == name && ev.Runtime.RuntimeName == "docker"
		}))
	hostMarker := unique("host")
	runTrue(t, "", hostMarker)
	ig.waitUntil("the host's exec", nil, streamMatcher(func(ev *execEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == hostMarker && ev.Runtime.ContainerName == "" && ev.Runtime.RuntimeName == ""
	}))

	// A container whose last act is an exec, right before it exits.
	last := unique("last")
	short := unique("igt-short")
	docker := requireTool(t, "/usr/bin/docker")
	if out, err := exec.Command(docker, "run", "-d", "--name", short, "--network", "none", "localhost/rtbox:latest",
		"sh", "-c", "sleep 2; /bin/true "+last).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", short).Run() })
	ig.waitUntil("the last exec of "+short, nil, streamMatcher(func(ev *execEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == last
	}))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	ev := findOne(t, eventsOf[execEvent](t, r.Stdout), "the last exec", func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == last })
	if ev.Runtime.ContainerName != short || ev.Runtime.RuntimeName != "docker" {
		t.Errorf("the last exec of a container is attributed as %+v", ev.Runtime)
	}
}

// A container that stops while ig traces it with -c ends nothing.
func TestFilteredContainerStops(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "podman")
	ig := startIG(t, "trace", "exec", "-c", name, "-o", "json")
	marker := unique("before-stop")
	ig.waitUntil("an exec in "+name, func() { inContainer(t, "podman", name, "/bin/true", marker) },
		streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker }))
	stopContainer(t, "podman", name)
	time.Sleep(2 * time.Second) // refreshes see it gone
	if ig.exited() {
		t.Fatalf("ig ended when its container stopped: %s", ig.wait())
	}
	checkSuccess(t, ig.stop(os.Interrupt))
}

func TestContainerErrors(t *testing.T) {
	runtimesUp(t)
	msg := checkFailure(t, runIG(t, "trace", "exec", "-c", unique("no-such-container")))
	if !strings.Contains(msg, "no running container named") {
		t.Errorf("message %q", msg)
	}
	msg = checkFailure(t, runIG(t, "-r", "docker", "--docker-socketpath", "/nonexistent.sock", "list-containers"))
	if !strings.Contains(msg, "/nonexistent.sock") {
		t.Errorf("message %q", msg)
	}
}

// mountNsOf is the mount namespace of a live process.
func netNsOf(t *testing.T, pid int) uint64 {
	t.Helper()
	ns, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(readlink(t, "/proc/"+strconv.Itoa(pid)+"/ns/net"), "net:["), "]"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func mountNsOf(t *testing.T, pid int) uint64 {
	t.Helper()
	ns, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(readlink(t, "/proc/"+strconv.Itoa(pid)+"/ns/mnt"), "mnt:["), "]"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func readlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
