package runtimestest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// DefaultEnvFile is where tests/runtimes/up.sh writes the runtimes'
// settings, KEY=value a line; IG_RUNTIMES_ENV names another.
const DefaultEnvFile = "/var/tmp/ig-test-runtimes/env"

// EnvFile is the settings file the integration tests read.
func EnvFile() string {
	if p := os.Getenv("IG_RUNTIMES_ENV"); p != "" {
		return p
	}
	return DefaultEnvFile
}

// Env gates an integration test against the daemons of tests/runtimes/up.sh
// and returns their settings. It skips the test unless IG_INTEGRATION is
// set; once set, it fails the test when it does not run as root, when the
// settings file is missing or when it lacks one of keys.
func Env(t testing.TB, keys ...string) map[string]string {
	t.Helper()
	if os.Getenv("IG_INTEGRATION") == "" {
		t.Skip("integration test against the daemons of tests/runtimes/up.sh: skipped unless IG_INTEGRATION=1 (as root, after tests/runtimes/up.sh)")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("IG_INTEGRATION is set but the tests run as uid %d: they need root", os.Geteuid())
	}
	path := EnvFile()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("IG_INTEGRATION is set but the runtimes' settings are missing (run tests/runtimes/up.sh as root): %v", err)
	}
	env := ParseEnv(data)
	for _, k := range keys {
		if env[k] == "" {
			t.Fatalf("%s: no %s", path, k)
		}
	}
	return env
}

// ParseEnv reads KEY=value lines; blank lines and # comments are skipped.
func ParseEnv(data []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

// Run runs a command, for at most two minutes, and returns its trimmed
// output; on failure, the error has the command and its whole output.
func Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Output runs cmd and returns its trimmed stdout, failing the test, with
// the stderr, when it fails.
func Output(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// RunSh runs tests/runtimes/run.sh with args (start|pid|exec|stop RUNTIME
// NAME ...) and returns its trimmed output. It fails the test when the
// script is not there.
func RunSh(t testing.TB, args ...string) (string, error) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	runSh := filepath.Join(filepath.Dir(file), "..", "..", "tests", "runtimes", "run.sh")
	if _, err := os.Stat(runSh); err != nil {
		t.Fatalf("no %s to start a container with: %v", runSh, err)
	}
	return Run("bash", append([]string{runSh}, args...)...)
}

// CheckComm checks that host process pid runs the command want.
func CheckComm(t testing.TB, pid int, want string) {
	t.Helper()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != want {
		t.Errorf("/proc/%d/comm = %q, %v; want %s", pid, comm, err, want)
	}
}
