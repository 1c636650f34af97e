package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// completionEnv writes `ig completion SHELL` to a file and returns it, with
// a PATH on which "ig" is the binary under test (the scripts run the ig
// the command line names).
func completionEnv(t *testing.T, shell string) (script string, env []string) {
	t.Helper()
	bin := igBinary(t)
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "ig")); err != nil {
		t.Fatal(err)
	}
	r := runIG(t, "completion", shell)
	checkSuccess(t, r)
	script = filepath.Join(dir, "ig."+shell)
	if err := os.WriteFile(script, r.Stdout, 0o644); err != nil {
		t.Fatal(err)
	}
	return script, append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
}

// bashComplete asks the bash script what <TAB> gives after line (the
// word under the cursor is the last of words), as bash's programmable
// completion would: COMP_WORDS, COMP_CWORD, then the completion function.
func bashComplete(t *testing.T, script string, env []string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := `source "$1" || exit 1
f=$(complete -p ig) && [[ $f == *"-F "* ]] || { echo "ig has no completion function: $f" >&2; exit 1; }
f=${f#*-F }; f=${f%% *}
COMP_WORDS=(ig ` + strings.Join(quoted, " ") + `); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
"$f" ig "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(requireTool(t, "bash"), "--norc", "--noprofile", "-c", prog, "bash", script)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, stderrOf(err))
	}
	return strings.Fields(string(out))
}

func TestCompletionBash(t *testing.T) {
	script, env := completionEnv(t, "bash")
	for _, tc := range []struct {
		words []string
		want  []string // exactly
		has   []string // at least
	}{
		{words: []string{"tr"}, want: []string{"trace", "traceloop"}},
		{words: []string{""}, has: []string{"trace", "top", "snapshot", "list-containers", "requirements", "traceloop", "script", "completion"}},
		{words: []string{"trace", "op"}, want: []string{"open"}},
		{words: []string{"trace", "open", "--fa"}, want: []string{"--failed"}},
		{words: []string{"trace", "open", "--co"}, has: []string{"--comm", "--containername", "--containers"}},
		{words: []string{"top", "file", "--"}, has: []string{"--sort", "--max-rows", "--interval", "--output", "--pid"}},
		{words: []string{"-r", ""}, want: []string{"docker", "containerd", "cri-o", "podman"}},
		{words: []string{"trace", "exec", "--runtimes", "docker,c"}, want: []string{"docker,containerd", "docker,cri-o"}},
		{words: []string{"--runtimes", "=", "po"}, want: []string{"podman"}},
		{words: []string{"snapshot", "process", "--sort", "-pp"}, want: []string{"-ppid"}},
		{words: []string{"trace", "open", "-o", "columns", "=", "pid,pa"}, want: []string{"pid,path"}},
		{words: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}},
	} {
		got := bashComplete(t, script, env, tc.words...)
		for _, h := range tc.has {
			if !slices.Contains(got, h) {
				t.Errorf("ig %s<TAB>: got %q, want it to include %q", strings.Join(tc.words, " "), got, h)
			}
		}
		if tc.has == nil && !slices.Equal(got, tc.want) {
			t.Errorf("ig %s<TAB>: got %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
	// A path flag: file names.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinux-test"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := bashComplete(t, script, env, "--btf", dir+"/vml"); !slices.Equal(got, []string{dir + "/vmlinux-test"}) {
		t.Errorf("ig --btf %s/vml<TAB>: got %q, want the file", dir, got)
	}
}

// -c <TAB> offers the running containers' names, a docker one the test
// started among them.
func TestCompletionContainers(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	script, env := completionEnv(t, "bash")
	if got := bashComplete(t, script, env, "trace", "open", "-c", ""); !slices.Contains(got, name) {
		t.Errorf("ig trace open -c <TAB>: got %q, want it to include %s", got, name)
	}
	if got := bashComplete(t, script, env, "--containername", name[:len(name)-3]); !slices.Equal(got, []string{name}) {
		t.Errorf("ig --containername %s<TAB>: got %q, want %s", name[:len(name)-3], got, name)
	}
	if got := bashComplete(t, script, env, "-r", "cri-o", "-c", name[:len(name)-3]); len(got) != 0 {
		t.Errorf("ig -r cri-o -c %s<TAB>: a docker container offered: %q", name[:len(name)-3], got)
	}
	// The hidden command the scripts use, on its own.
	r := runIG(t, "__complete", "containers")
	checkSuccess(t, r)
	if !slices.Contains(strings.Split(string(r.Stdout), "\n"), name) {
		t.Errorf("ig __complete containers: %s lacks %s", r.Stdout, name)
	}
	// No runtime answers: nothing, silently.
	r = runIG(t, "__complete", "bash", "--docker-socketpath", "/nonexistent", "-r", "docker", "-c", "")
	checkSuccess(t, r)
	if len(r.Stdout) != 0 {
		t.Errorf("no runtime answers: want no candidates, got %q", r.Stdout)
	}
}

// zsh: the script is accepted (zsh -n), and the completion function, run
// as compsys would with words and CURRENT set and compadd and _files
// stubbed (they only exist inside a completion widget), offers the same.
func TestCompletionZsh(t *testing.T) {
	script, env := completionEnv(t, "zsh")
	zsh := requireTool(t, "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n rejects the script: %v\n%s", err, out)
	}
	run := func(words ...string) []string {
		t.Helper()
		prog := `compdef() { :; }
compadd() { print -l -- $names }
_files() { print -- FILES }
source "$1" || exit 1
shift
words=(ig "$@"); CURRENT=$#words
_ig`
		cmd := exec.Command(zsh, append([]string{"-f", "-c", prog, "zsh", script}, words...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil && len(out) == 0 && len(stderrOf(err)) > 0 {
			t.Fatalf("zsh completion of %q: %v\n%s", words, err, stderrOf(err))
		}
		return strings.Fields(string(out))
	}
	if got := run("tr"); !slices.Equal(got, []string{"trace", "traceloop"}) {
		t.Errorf("zsh: ig tr<TAB>: got %q", got)
	}
	if got := run("trace", "open", "--fa"); !slices.Equal(got, []string{"--failed"}) {
		t.Errorf("zsh: ig trace open --fa<TAB>: got %q", got)
	}
	if got := run("--runtimes=c"); !slices.Equal(got, []string{"--runtimes=containerd", "--runtimes=cri-o"}) {
		t.Errorf("zsh: ig --runtimes=c<TAB>: got %q", got)
	}
	if got := run("--btf", ""); !slices.Equal(got, []string{"FILES"}) {
		t.Errorf("zsh: ig --btf <TAB>: got %q, want file names", got)
	}

	// And for real: an interactive zsh with compinit, in a pty (zsh/zpty),
	// gets "ig trace op" and a TAB; then the line is echoed.
	driver := `zmodload zsh/zpty
zpty z env PATH="$PATH" TERM=dumb zsh -f -i
zpty -w z "bindkey -e; autoload -Uz compinit; compinit -u -D; source ${(q)1}; PS1='> '"
zpty -w -n z "$2"$'\t'
sleep 0.3
zpty -w -n z $'\x01echo COMPLETED: \n'
zpty -w z 'echo END$((1+1))MARK'
while zpty -r z line; do
  print -r -- "$line"
  [[ $line == END2MARK* ]] && break
done
zpty -d z`
	for line, want := range map[string]string{"ig trace op": "ig trace open", "ig trace open --fa": "ig trace open --failed"} {
		cmd := exec.Command(zsh, "-f", "-c", driver, "zsh", script, line)
		cmd.Env = env
		timer := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
		out, err := cmd.Output()
		timer.Stop()
		if err != nil {
			t.Fatalf("zsh in a pty: %v\n%s%s", err, out, stderrOf(err))
		}
		text := strings.ReplaceAll(string(out), "\r", "")
		if !strings.Contains(text, "\nCOMPLETED: "+want+"\n") {
			t.Errorf("interactive zsh: %s<TAB> did not become %q:\n%q", line, want, text)
		}
	}
}

// fish: the script is accepted (fish -n), and fish's own `complete -C`
// completes with it.
func TestCompletionFish(t *testing.T) {
	script, env := completionEnv(t, "fish")
	fish := requireTool(t, "fish")
	if out, err := exec.Command(fish, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("fish -n rejects the script: %v\n%s", err, out)
	}
	run := func(line string) []string {
		t.Helper()
		cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; and complete -C $argv[2]`, script, line)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("fish completion of %q: %v\n%s", line, err, stderrOf(err))
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if n, _, _ := strings.Cut(l, "\t"); n != "" {
				names = append(names, n)
			}
		}
		return names
	}
	if got := run("ig tr"); !slices.Equal(got, []string{"trace", "traceloop"}) {
		t.Errorf("fish: ig tr<TAB>: got %q", got)
	}
	if got := run("ig trace op"); !slices.Equal(got, []string{"open"}) {
		t.Errorf("fish: ig trace op<TAB>: got %q", got)
	}
	if got := run("ig -r docker,c"); !slices.Equal(got, []string{"docker,containerd", "docker,cri-o"}) {
		t.Errorf("fish: ig -r docker,c<TAB>: got %q", got)
	}
}

// A shell ig has no script for: one line, a non-zero exit.
func TestCompletionUnknownShell(t *testing.T) {
	msg := checkFailure(t, runIG(t, "completion", "tcsh"))
	if !strings.Contains(msg, `"tcsh"`) || !strings.Contains(msg, "bash, zsh, fish") {
		t.Errorf("ig completion tcsh: %q, want it to name the shell and the ones there are", msg)
	}
}
