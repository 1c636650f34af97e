package podman

// Integration tests against the real podman services (root and rootless)
// that tests/runtimes/up.sh brings up. They skip unless IG_INTEGRATION is
// set, and fail when it is set and the services are not there.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// runtimesEnv gates a test and returns the settings of up.sh's services.
func runtimesEnv(t *testing.T) map[string]string {
	t.Helper()
	return runtimestest.Env(t, "PODMAN_SOCK", "PODMAN_ROOTLESS_SOCK", "RL_USER", "RL_UID", "RL_HOME", "CONTAINERS_CONF", "IMG_PAUSE")
}

// run runs a command and returns its trimmed stdout, failing the test on
// error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	return runtimestest.Output(t, cmd)
}

// rootPodman is the podman command line as root, with the test setup's
// containers.conf.
func rootPodman(env map[string]string) (cmdEnv []string, name string, pre []string) {
	return append(os.Environ(), "CONTAINERS_CONF="+env["CONTAINERS_CONF"]), "podman", nil
}

// rootlessPodman is the podman command line as the rootless user, as
// tests/runtimes/lib.sh's as_rl runs it.
func rootlessPodman(env map[string]string) (cmdEnv []string, name string, pre []string) {
	return nil, "runuser", []string{"-u", env["RL_USER"], "--", "env", "-i", "-C", env["RL_HOME"],
		"HOME=" + env["RL_HOME"], "USER=" + env["RL_USER"], "LOGNAME=" + env["RL_USER"],
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "XDG_RUNTIME_DIR=/run/user/" + env["RL_UID"], "podman"}
}

type podmanCLI func(map[string]string) ([]string, string, []string)

// started is a test container and what the podman CLI says of it.
type started struct {
	id, name string
	pid      int
}

// start runs a long-running container named name (removed at the end of the
// test) and returns its id and the host pid `podman inspect` reports.
func start(t *testing.T, env map[string]string, cli podmanCLI, name string) started {
	t.Helper()
	cmdEnv, bin, pre := cli(env)
	pm := func(args ...string) string { return run(t, cmdEnv, bin, append(slices.Clone(pre), args...)...) }
	id := pm("run", "-d", "--name", name, "--network", "none", env["IMG_PAUSE"])
	t.Cleanup(func() {
		rm := exec.Command(bin, append(slices.Clone(pre), "rm", "-f", "-t", "0", name)...)
		rm.Env = cmdEnv
		rm.Run()
	})
	pid, err := strconv.Atoi(pm("inspect", "-f", "{{.State.Pid}}", name))
	if err != nil || pid <= 0 {
		t.Fatalf("podman inspect %s: pid %d, %v", name, pid, err)
	}
	return started{id: id, name: name, pid: pid}
}

func testName(what string) string {
	return fmt.Sprintf("ig-it-%s-%d-%d", what, os.Getpid(), time.Now().UnixNano()%1e6)
}

// find returns the listed container with id, failing the test if absent.
func find(t *testing.T, list []runtimes.Container, id string) runtimes.Container {
	t.Helper()
	for _, c := range list {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("container %s not listed; listed: %+v", id, list)
	return runtimes.Container{}
}

func checkContainer(t *testing.T, got runtimes.Container, want started, image string, owner uint32) {
	t.Helper()
	t.Logf("listed %+v", got)
	if got.Runtime != runtimes.Podman || got.Name != want.name || got.Pid != want.pid || got.Image != image ||
		got.OwnerUID != owner || got.Labels == nil || got.PodName != "" || got.PodNamespace != "" || got.MountNsID != 0 {
		t.Errorf("listed %+v\nwant name %s, pid %d, image %s, owner uid %d", got, want.name, want.pid, image, owner)
	}
	// The pid is a host pid: /proc has it, owned by the container's root as
	// the host sees it.
	fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(got.Pid)))
	if err != nil {
		t.Fatalf("host pid %d: %v", got.Pid, err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != owner {
		t.Errorf("/proc/%d belongs to uid %d, want %d", got.Pid, uid, owner)
	}
}

func TestIntegrationRoot(t *testing.T) {
	env := runtimesEnv(t)
	sock := env["PODMAN_SOCK"]
	c, err := New(sock)
	if err != nil {
		t.Fatalf("podman service (run tests/runtimes/up.sh): %v", err)
	}
	defer c.Close()

	ct := start(t, env, rootPodman, testName("podman"))
	// created, never started: not listed
	cmdEnv, bin, _ := rootPodman(env)
	created := run(t, cmdEnv, bin, "create", "--name", testName("podman-created"), "--network", "none", env["IMG_PAUSE"])
	t.Cleanup(func() {
		rm := exec.Command(bin, "rm", "-f", "-t", "0", created)
		rm.Env = cmdEnv
		rm.Run()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkContainer(t, find(t, list, ct.id), ct, env["IMG_PAUSE"], 0)
	for _, l := range list {
		if l.ID == created {
			t.Errorf("a created, not started container is listed: %+v", l)
		}
	}
}

func TestIntegrationRootless(t *testing.T) {
	env := runtimesEnv(t)
	sock := env["PODMAN_ROOTLESS_SOCK"]
	uid, err := strconv.ParseUint(env["RL_UID"], 10, 32)
	if err != nil {
		t.Fatalf("RL_UID %q: %v", env["RL_UID"], err)
	}
	if found := DiscoverRootless(); !slices.Contains(found, sock) {
		t.Errorf("DiscoverRootless() = %v, without %s", found, sock)
	}
	c, err := New(sock)
	if err != nil {
		t.Fatalf("rootless podman service (run tests/runtimes/up.sh): %v", err)
	}
	defer c.Close()
	if c.OwnerUID() != uint32(uid) {
		t.Errorf("OwnerUID = %d, want %d", c.OwnerUID(), uid)
	}

	ct := start(t, env, rootlessPodman, testName("podman-rootless"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkContainer(t, find(t, list, ct.id), ct, env["IMG_PAUSE"], uint32(uid))

	// root's service does not list the user's containers
	root, err := New(env["PODMAN_SOCK"])
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rootList, err := root.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rootList {
		if l.ID == ct.id {
			t.Errorf("root's service lists the rootless container: %+v", l)
		}
	}
}
