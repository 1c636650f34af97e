package docker

// Tests against the real dockerd that tests/runtimes/up.sh brings up. They
// skip unless IG_INTEGRATION is set, and then a missing daemon fails them.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// dockerCLI runs the docker CLI against socket and returns its trimmed output.
func dockerCLI(t *testing.T, socket string, args ...string) (string, error) {
	t.Helper()
	bin := "/usr/bin/docker"
	if _, err := os.Stat(bin); err != nil {
		bin = "docker"
	}
	return runtimestest.Run(bin, append([]string{"--host", "unix://" + socket}, args...)...)
}

func TestIntegrationContainers(t *testing.T) {
	env := runtimestest.Env(t, "DOCKER_SOCK", "IMG_BOX")
	socket, image := env["DOCKER_SOCK"], env["IMG_BOX"]

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
	runtimestest.CheckComm(t, got.Pid, "sleep")

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
