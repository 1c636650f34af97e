package cli

import (
	"slices"
	"strings"
	"testing"
)

// names drops the descriptions.
func names(cands []string) []string {
	var out []string
	for _, c := range cands {
		n, _, _ := strings.Cut(c, "\t")
		out = append(out, n)
	}
	return out
}

func TestComplete(t *testing.T) {
	app := newApp()
	for _, tc := range []struct {
		shell string
		words []string
		want  []string // exactly these
		has   []string // at least these
	}{
		{shell: "bash", words: []string{"tr"}, want: []string{"trace", "traceloop"}},
		{shell: "bash", words: []string{""}, has: []string{"trace", "top", "snapshot", "list-containers", "requirements", "traceloop", "script", "completion", "help"}},
		{shell: "bash", words: []string{"trace", "op"}, want: []string{"open"}},
		{shell: "bash", words: []string{"-o", "json", "trace", "op"}, want: []string{"open"}},
		{shell: "bash", words: []string{"trace", "open", "--fa"}, want: []string{"--failed"}},
		{shell: "bash", words: []string{"trace", "open", "--cont"}, want: []string{"--containername", "--containers", "--containerd-socketpath", "--containerd-namespace"}},
		{shell: "bash", words: []string{"trace", "open", "-"}, has: []string{"--failed", "--pid", "-c", "-o"}},
		{shell: "bash", words: []string{"trace", "open", ""}, has: []string{"--failed", "--comm"}},
		{shell: "bash", words: []string{"-r", ""}, want: []string{"docker", "containerd", "cri-o", "podman"}},
		{shell: "bash", words: []string{"trace", "exec", "--runtimes", "docker,c"}, want: []string{"docker,containerd", "docker,cri-o"}},
		// bash splits --flag=value at '=': it replaces only what follows it.
		{shell: "bash", words: []string{"--runtimes", "=", "p"}, want: []string{"podman"}},
		{shell: "bash", words: []string{"--runtimes", "="}, want: []string{"docker", "containerd", "cri-o", "podman"}},
		{shell: "zsh", words: []string{"--runtimes=p"}, want: []string{"--runtimes=podman"}},
		{shell: "fish", words: []string{"trace", "open", "-o", "columns=pid,co"}, want: []string{"columns=pid,containerid", "columns=pid,container", "columns=pid,containerpid", "columns=pid,comm"}},
		{shell: "bash", words: []string{"trace", "open", "-o", "columns", "=", "pid,co"}, want: []string{"pid,containerid", "pid,container", "pid,containerpid", "pid,comm"}},
		{shell: "bash", words: []string{"trace", "open", "-o", "j"}, want: []string{"json", "jsonpretty"}},
		{shell: "bash", words: []string{"trace", "open", "-o", "y"}, want: []string{"yaml"}},
		{shell: "bash", words: []string{"profile", "cpu", "-o", "pp"}, want: []string{"pprof="}},
		{shell: "bash", words: []string{"snapshot", "process", "--sort", "-p"}, want: []string{"-pid", "-ppid", "-pcomm"}},
		{shell: "bash", words: []string{"snapshot", "process", "--sort", "comm,ui"}, want: []string{"comm,uid"}},
		{shell: "bash", words: []string{"snapshot", "socket", "--proto", "u"}, want: []string{"udp", "unix"}},
		{shell: "bash", words: []string{"top", "tcp", "--family", ""}, want: []string{"4", "6"}},
		{shell: "bash", words: []string{"--btf", ""}, want: []string{filesDirective}},
		{shell: "bash", words: []string{"trace", "open", "--variant", ""}, has: []string{"tracepoint"}},
		{shell: "bash", words: []string{"help", "trace", "o"}, want: []string{"oomkill", "open"}},
		{shell: "bash", words: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}},
		{shell: "bash", words: []string{"trace", "open", "--", ""}, want: nil},
		{shell: "bash", words: []string{"__comp"}, want: nil}, // hidden
	} {
		got := names(complete(app, tc.shell, tc.words))
		name := tc.shell + " " + strings.Join(tc.words, " ")
		if tc.has != nil {
			for _, h := range tc.has {
				if !slices.Contains(got, h) {
					t.Errorf("%q: got %q, want it to include %q", name, got, h)
				}
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", name, got, tc.want)
		}
	}
}

func TestCompletionCommand(t *testing.T) {
	for _, args := range [][]string{{"ig", "completion", "tcsh"}, {"ig", "completion"}, {"ig", "completion", "bash", "zsh"}} {
		err := newApp().Run(args)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bash, zsh") {
			t.Errorf("%q: got %v, want one line naming the shells", args, err)
		}
	}
	for shell, script := range completionScripts {
		if !strings.Contains(script, "__complete "+shell) {
			t.Errorf("the %s script does not ask `ig __complete %s`", shell, shell)
		}
	}
}
