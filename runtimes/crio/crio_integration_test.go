package crio

// Integration test against the real CRI-O that tests/runtimes/up.sh brings
// up. It skips unless IG_INTEGRATION is set, and fails when it is set and
// CRI-O is not there.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// crictl runs crictl with CRI-O's config and returns its trimmed stdout,
// failing the test on error.
func crictl(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	return runtimestest.Output(t, crictlCmd(env, args...))
}

// crictlCmd is crictl (up.sh's, else the one in PATH) with CRI-O's config.
func crictlCmd(env map[string]string, args ...string) *exec.Cmd {
	bin := "crictl"
	if d := env["PATH_ADD"]; d != "" && fileExists(filepath.Join(d, "crictl")) {
		bin = filepath.Join(d, "crictl")
	}
	return exec.Command(bin, append([]string{"--config", env["CRICTL_CRIO"]}, args...)...)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIntegration(t *testing.T) {
	env := runtimestest.Env(t, "CRIO_SOCK", "CRICTL_CRIO", "IMG_PAUSE")
	c, err := New(env["CRIO_SOCK"])
	if err != nil {
		t.Fatalf("CRI-O (run tests/runtimes/up.sh): %v", err)
	}
	defer c.Close()

	// One pod, in its own namespace, with two containers: "labelled" carries
	// the labels the kubelet sets, "plain" none (as crictl makes them), so
	// its pod comes from the sandbox.
	dir := t.TempDir()
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	podName, podNS := "ig-it-crio-pod-"+suffix, "ig-it"
	// CRI-O: a pod pid namespace would need an infra container, whose
	// oom_score_adj (-998) fails without CAP_SYS_RESOURCE; with pid
	// namespace CONTAINER (1) there is none.
	linux := map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": 1}}}
	podJSON := filepath.Join(dir, "pod.json")
	writeJSON(t, podJSON, map[string]any{
		"metadata":      map[string]any{"name": podName, "namespace": podNS, "uid": podName + "-uid", "attempt": 0},
		"log_directory": filepath.Join(dir, "logs"),
		"linux":         linux,
	})
	pod := crictl(t, env, "runp", podJSON)
	t.Cleanup(func() {
		crictlCmd(env, "stopp", pod).Run()
		crictlCmd(env, "rmp", "-f", pod).Run()
	})

	type want struct {
		id, name string
		pid      int
		labels   map[string]string
	}
	var wants []want
	for _, name := range []string{"labelled", "plain"} {
		labels := map[string]string{}
		if name == "labelled" {
			labels = map[string]string{
				runtimes.LabelPodName: podName, runtimes.LabelPodNamespace: podNS, runtimes.LabelContainerName: name,
			}
		}
		ctrJSON := filepath.Join(dir, name+".json")
		writeJSON(t, ctrJSON, map[string]any{
			"metadata": map[string]any{"name": name},
			"image":    map[string]any{"image": env["IMG_PAUSE"]},
			"log_path": name + ".log",
			"labels":   labels,
			"linux":    linux,
		})
		id := crictl(t, env, "create", pod, ctrJSON, podJSON)
		crictl(t, env, "start", id)
		var insp struct {
			Info struct {
				Pid int `json:"pid"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(crictl(t, env, "inspect", id)), &insp); err != nil || insp.Info.Pid <= 0 {
			t.Fatalf("crictl inspect %s: pid %d, %v", id, insp.Info.Pid, err)
		}
		wants = append(wants, want{id: id, name: name, pid: insp.Info.Pid, labels: labels})
	}
	// a created, never started container: not listed
	ctrJSON := filepath.Join(dir, "created.json")
	writeJSON(t, ctrJSON, map[string]any{
		"metadata": map[string]any{"name": "created"}, "image": map[string]any{"image": env["IMG_PAUSE"]},
		"log_path": "created.log", "linux": linux,
	})
	created := crictl(t, env, "create", pod, ctrJSON, podJSON)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wants {
		var got *runtimes.Container
		for i := range list {
			if list[i].ID == w.id {
				got = &list[i]
			}
		}
		if got == nil {
			t.Errorf("container %s (%s) not listed; listed: %+v", w.name, w.id, list)
			continue
		}
		t.Logf("listed %+v", *got)
		if got.Runtime != runtimes.CRIO || got.Name != w.name || got.Pid != w.pid || got.Image != env["IMG_PAUSE"] ||
			got.PodName != podName || got.PodNamespace != podNS || got.OwnerUID != 0 || got.MountNsID != 0 {
			t.Errorf("listed %+v\nwant name %s, pid %d, image %s, pod %s/%s", *got, w.name, w.pid, env["IMG_PAUSE"], podNS, podName)
		}
		for k, v := range w.labels {
			if got.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", w.name, k, got.Labels[k], v)
			}
		}
		if !fileExists(filepath.Join("/proc", strconv.Itoa(got.Pid))) {
			t.Errorf("%s: host pid %d not in /proc", w.name, got.Pid)
		}
	}
	for _, l := range list {
		if l.ID == created {
			t.Errorf("a created, not started container is listed: %+v", l)
		}
	}
}
