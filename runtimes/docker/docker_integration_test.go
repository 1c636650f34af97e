package docker

// Tests against the real dockerd that tests/runtimes/up.sh brings up. They
// run only with IG_INTEGRATION=1, and then a missing daemon fails them.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

const envFile = "/var/tmp/ig-test-runtimes/env"

// integrationEnv skips the test unless IG_INTEGRATION=1, and returns the
// settings up.sh wrote (empty when it wrote none).
func integrationEnv(t *testing.T) map[string]string {
	t.Helper()
	if os.Getenv("IG_INTEGRATION") != "1" {
		t.Skip("set IG_INTEGRATION=1 to run against the daemons of tests/runtimes/up.sh")
	}
	env := map[string]string{}
	f, err := os.Open(envFile)
	if err != nil {
		t.Logf("%v: using the default sockets", err)
		return env
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// dockerCLI runs the docker CLI against socket and returns its trimmed output.
func dockerCLI(t *testing.T, socket string, args ...string) (string, error) {
	t.Helper()
	bin := "/usr/bin/docker"
	if _, err := os.Stat(bin); err != nil {
		bin = "docker"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--host", "unix://" + socket}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func TestIntegrationContainers(t *testing.T) {
	env := integrationEnv(t)
	socket := orDefault(env["DOCKER_SOCK"], DefaultSocket)
	image := orDefault(env["IMG_BOX"], "localhost/rtbox:latest")

	c, err := New(socket)
	if err != nil {
		t.Fatalf("New(%q): %v", socket, err) // a missing daemon fails, it does not skip
	}
	defer c.Close()

	name := fmt.Sprintf("ig-rt-docker-%d", os.Getpid())
	created := name + "-created"
	cleanup := func() {
		dockerCLI(t, socket, "rm", "-f", name, created)
	}
	cleanup()
	t.Cleanup(cleanup)

	id, err := dockerCLI(t, socket, "run", "-d", "--name", name, "--network", "none", image, "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	// A container that never started must not be listed.
	createdID, err := dockerCLI(t, socket, "create", "--name", created, "--network", "none", image, "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	out, err := dockerCLI(t, socket, "inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		t.Fatalf("docker inspect says pid %q", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got *runtimes.Container
	for i := range list {
		switch list[i].ID {
		case id:
			got = &list[i]
		case createdID:
			t.Errorf("the created, never started container %s is listed", created)
		}
		if list[i].Pid <= 0 {
			t.Errorf("container %s has pid %d", list[i].Name, list[i].Pid)
		}
	}
	if got == nil {
		t.Fatalf("container %s (%s) not in Containers(): %+v", name, id, list)
	}
	if got.Runtime != runtimes.Docker || got.Name != name || got.Image != image || got.Pid != pid ||
		got.Labels == nil || got.OwnerUID != 0 || got.MountNsID != 0 {
		t.Errorf("got %+v\nwant Runtime %q Name %q Image %q Pid %d, non-nil Labels", *got, runtimes.Docker, name, image, pid)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", got.Pid))
	if err != nil || strings.TrimSpace(string(comm)) != "sleep" {
		t.Errorf("/proc/%d/comm = %q, %v; want sleep", got.Pid, comm, err)
	}

	// Once stopped, it is no longer listed.
	if _, err := dockerCLI(t, socket, "kill", name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := c.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ct := range list {
			found = found || ct.ID == id
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed container %s still listed", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
