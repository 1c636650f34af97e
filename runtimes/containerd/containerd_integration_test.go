package containerd

// Tests against the real containerd (and dockerd, and containerd's CRI
// plugin) that tests/runtimes/up.sh brings up. They skip unless
// IG_INTEGRATION is set, and then a missing daemon fails them.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

func listContainers(t *testing.T, c *Client) []runtimes.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list {
		if ct.Pid <= 0 {
			t.Errorf("container %s/%s has pid %d", ct.Labels[LabelNamespace], ct.ID, ct.Pid)
		}
		if (ct.Labels[LabelKind] == "sandbox") != ct.Sandbox || ct.Sandbox && (ct.Name != "" || ct.PodName == "") {
			t.Errorf("CRI sandbox %s is listed as %+v; want it marked, with no name and its pod", ct.ID, ct)
		}
	}
	return list
}

func find(list []runtimes.Container, ns, id string) *runtimes.Container {
	for i := range list {
		if list[i].ID == id && list[i].Labels[LabelNamespace] == ns {
			return &list[i]
		}
	}
	return nil
}

// TestIntegrationCtr: a plain `ctr run` container, in every namespace and in
// its own.
func TestIntegrationCtr(t *testing.T) {
	env := runtimestest.Env(t, "CONTAINERD_SOCK", "CTR_NAMESPACE", "IMG_BOX", "W")
	socket, ns, image := env["CONTAINERD_SOCK"], env["CTR_NAMESPACE"], env["IMG_BOX"]
	imgDir := filepath.Join(env["W"], "img")

	c, err := New(socket, "")
	if err != nil {
		t.Fatalf("New(%q): %v", socket, err) // a missing daemon fails, it does not skip
	}
	defer c.Close()

	ctr := func(args ...string) (string, error) {
		return runtimestest.Run("ctr", append([]string{"--address", socket, "-n", ns}, args...)...)
	}
	if out, err := ctr("images", "ls", "-q"); err != nil {
		t.Fatal(err)
	} else if !containsLine(out, image) {
		tar := filepath.Join(imgDir, "box.tar")
		if _, err := os.Stat(filepath.Join(imgDir, "rtbox.tar")); err == nil {
			tar = filepath.Join(imgDir, "rtbox.tar")
		}
		if _, err := ctr("images", "import", tar); err != nil {
			t.Fatal(err)
		}
	}

	name := fmt.Sprintf("ig-rt-ctr-%d", os.Getpid())
	created := name + "-created"
	cleanup := func() {
		for _, id := range []string{name, created} {
			ctr("tasks", "kill", "-s", "SIGKILL", id)
			for i := 0; i < 50; i++ {
				if _, err := ctr("tasks", "delete", id); err != nil &&
					!strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "no running task") {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				break
			}
			ctr("containers", "delete", id)
		}
	}
	cleanup()
	t.Cleanup(cleanup)

	if _, err := ctr("run", "-d", image, name, "sleep", "300"); err != nil {
		t.Fatal(err)
	}
	// A container without a task must not be listed.
	if _, err := ctr("containers", "create", image, created, "sleep", "300"); err != nil {
		t.Fatal(err)
	}
	pid := ctrTaskPid(t, ctr, name)

	list := listContainers(t, c)
	got := find(list, ns, name)
	if got == nil {
		t.Fatalf("container %s/%s not in Containers(): %+v", ns, name, list)
	}
	if find(list, ns, created) != nil {
		t.Errorf("container %s without a task is listed", created)
	}
	if got.Runtime != runtimes.Containerd || got.Name != name || got.Image != image || got.Pid != pid ||
		got.PodName != "" || got.PodNamespace != "" || got.OwnerUID != 0 || got.MountNsID != 0 {
		t.Errorf("got %+v\nwant Runtime %q Name %q Image %q Pid %d", *got, runtimes.Containerd, name, image, pid)
	}
	runtimestest.CheckComm(t, got.Pid, "sleep")

	// Only its namespace.
	c1, err := New(socket, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	list = listContainers(t, c1)
	if find(list, ns, name) == nil {
		t.Errorf("container %s not listed in namespace %s", name, ns)
	}
	for _, ct := range list {
		if ct.Labels[LabelNamespace] != ns {
			t.Errorf("namespace %s lists %s of namespace %s", ns, ct.ID, ct.Labels[LabelNamespace])
		}
	}

	// Another namespace does not have it.
	c2, err := New(socket, "ig-test-empty-namespace")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if list := listContainers(t, c2); len(list) != 0 {
		t.Errorf("an unknown namespace lists %+v", list)
	}
}

func containsLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// ctrTaskPid reads a task's pid from `ctr tasks ls` (TASK PID STATUS).
func ctrTaskPid(t *testing.T, ctr func(...string) (string, error), id string) int {
	t.Helper()
	out, err := ctr("tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			if f[2] != "RUNNING" {
				t.Fatalf("ctr tasks ls: %s is %s", id, f[2])
			}
			pid, err := strconv.Atoi(f[1])
			if err != nil || pid <= 0 {
				t.Fatalf("ctr tasks ls: %q", l)
			}
			return pid
		}
	}
	t.Fatalf("ctr tasks ls has no %s:\n%s", id, out)
	return 0
}

// TestIntegrationDockerMoby: dockerd keeps its containers in containerd's
// "moby" namespace; they are listed with that namespace and the same pid.
func TestIntegrationDockerMoby(t *testing.T) {
	env := runtimestest.Env(t, "CONTAINERD_SOCK", "DOCKER_SOCK", "IMG_BOX")
	socket, dockerSock, image := env["CONTAINERD_SOCK"], env["DOCKER_SOCK"], env["IMG_BOX"]

	c, err := New(socket, "")
	if err != nil {
		t.Fatalf("New(%q): %v", socket, err)
	}
	defer c.Close()

	docker := func(args ...string) (string, error) {
		return runtimestest.Run("docker", append([]string{"--host", "unix://" + dockerSock}, args...)...)
	}
	name := fmt.Sprintf("ig-rt-moby-%d", os.Getpid())
	docker("rm", "-f", name)
	t.Cleanup(func() { docker("rm", "-f", name) })
	id, err := docker("run", "-d", "--name", name, "--network", "none", image, "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	out, err := docker("inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(out)

	list := listContainers(t, c)
	got := find(list, "moby", id)
	if got == nil {
		t.Fatalf("docker container %s not in containerd's moby namespace: %+v", id, list)
	}
	if got.Pid != pid || got.Name != id {
		t.Errorf("got %+v, want Pid %d Name %s", *got, pid, id)
	}
}

// TestIntegrationCRI: a pod from containerd's CRI plugin (started with
// tests/runtimes/run.sh, through crictl, so without kubelet's labels): the
// container is listed under its CRI name with its pod, from the CRI plugin's
// metadata; the sandbox is listed, marked, with its pod and pid.
func TestIntegrationCRI(t *testing.T) {
	env := runtimestest.Env(t, "CONTAINERD_SOCK", "IMG_PAUSE")
	socket := env["CONTAINERD_SOCK"]

	c, err := New(socket, "k8s.io")
	if err != nil {
		t.Fatalf("New(%q): %v", socket, err)
	}
	defer c.Close()

	name := fmt.Sprintf("igrtcri%d", os.Getpid())
	t.Cleanup(func() { runtimestest.RunSh(t, "stop", "containerd-cri", name) })
	out, err := runtimestest.RunSh(t, "start", "containerd-cri", name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[len(lines)-1]))
	if err != nil {
		t.Fatalf("run.sh start printed %q", out)
	}

	list := listContainers(t, c)
	var got *runtimes.Container
	for i := range list {
		if list[i].Name == name && list[i].PodName == name+"-pod" {
			got = &list[i]
		}
	}
	if got == nil {
		t.Fatalf("CRI container %s not in Containers(): %+v", name, list)
	}
	if got.Pid != pid || got.PodNamespace != "default" || got.Labels[LabelNamespace] != "k8s.io" ||
		got.ID == name || got.Image != env["IMG_PAUSE"] || got.Sandbox {
		t.Errorf("got %+v\nwant Pid %d PodNamespace default, namespace k8s.io", *got, pid)
	}
	out, err = runtimestest.RunSh(t, "sandbox-pid", "containerd-cri", name)
	if err != nil {
		t.Fatal(err)
	}
	sandboxPid, _ := strconv.Atoi(strings.TrimSpace(out))
	var sandbox *runtimes.Container
	for i := range list {
		if list[i].Sandbox && list[i].PodName == name+"-pod" {
			sandbox = &list[i]
		}
	}
	if sandbox == nil || sandbox.Pid != sandboxPid || sandbox.PodNamespace != "default" {
		t.Errorf("the pod's sandbox is listed as %+v, want pid %d", sandbox, sandboxPid)
	}
}
