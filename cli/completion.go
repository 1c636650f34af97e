package cli

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/runtimes"
	runtimesall "github.com/ig-tracer/ig/runtimes/all"
	"github.com/ig-tracer/ig/tracers"
)

// Shell completion. `ig completion SHELL` prints a small script; the
// script asks ig itself what may come next, `ig __complete SHELL WORD...`
// (the words after "ig", the last one the word being completed), so that
// the scripts never go stale: commands, gadgets, flags and their values
// all come from the command tree built here. The live values of -c are the
// running containers' names, asked of the runtimes with a short timeout.

var (
	//go:embed completion/ig.bash
	bashScript string
	//go:embed completion/ig.zsh
	zshScript string
	//go:embed completion/ig.fish
	fishScript string
)

var completionScripts = map[string]string{"bash": bashScript, "zsh": zshScript, "fish": fishScript}

// filesDirective, as the last line of `ig __complete`, asks the shell to
// complete file names instead (a flag whose value is a path).
const filesDirective = ":files"

// completionTimeout bounds how long `-c <TAB>` waits for the runtimes.
const completionTimeout = 1500 * time.Millisecond

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash:  source <(ig completion bash)     (or save it in /etc/bash_completion.d/ig)\n" +
			"zsh:   source <(ig completion zsh)      (after compinit; or save it as _ig in a directory of $fpath)\n" +
			"fish:  ig completion fish | source      (or save it in ~/.config/fish/completions/ig.fish)",
		OnUsageError: usageError,
		Before:       checkFlagsApply,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("completion takes one shell: bash, zsh or fish (see 'ig completion --help')")
			}
			script, ok := completionScripts[c.Args().First()]
			if !ok {
				return fmt.Errorf("completion: unknown shell %q; shells: bash, zsh, fish", c.Args().First())
			}
			_, err := io.WriteString(os.Stdout, script)
			return err
		},
	}
}

// completeCommand is the hidden `ig __complete`: `containers` prints the
// names of the running containers; `bash|zsh|fish WORD...` the candidates
// for the last WORD, one a line, each maybe followed by a tab and a
// description. It never fails: no candidates is an empty answer.
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return nil
			}
			var out []string
			switch args[0] {
			case "containers":
				out = containerNames(nil)
			case "bash", "zsh", "fish":
				out = complete(c.App, args[0], args[1:])
			}
			if len(out) > 0 {
				fmt.Fprintln(os.Stdout, strings.Join(out, "\n"))
			}
			return nil
		},
	}
}

// containerNames lists the running containers' names (pods' sandboxes
// left out), from the runtimes of cfg (nil: every one found), each given
// completionTimeout; a runtime that does not answer adds nothing.
func containerNames(cfg *runtimesall.Config) []string {
	if cfg == nil {
		cfg = &runtimesall.Config{}
	}
	cfg.Logf, cfg.Warnf = func(string, ...any) {}, func(string, ...any) {}
	clients, err := runtimesall.Connect(*cfg)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		names []string
		wg    sync.WaitGroup
	)
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			list, err := cl.Containers(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ct := range list {
				if !ct.Sandbox && ct.Name != "" {
					names = append(names, ct.Name)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done(): // a client that ignores its context holds nothing up
	}
	mu.Lock()
	out := slices.Clone(names)
	mu.Unlock()
	go func() { // closed once they have answered: a hung one is left to exit
		<-done
		for _, cl := range clients {
			cl.Close()
		}
	}()
	sort.Strings(out)
	return slices.Compact(out)
}

// completer walks the words typed so far through the command tree.
type completer struct {
	app  *cli.App
	cmd  *cli.Command       // the deepest command named so far; nil: ig itself
	path []string           // its names: ["trace", "open"]
	args []string           // words that are not flags nor commands (help's topics, completion's shell)
	rt   runtimesall.Config // -r and the sockets given, for -c's values
}

// complete gives the candidates for the last of words, the words after
// "ig". bash splits "--flag=value" at '=' into three words (COMP_WORDBREAKS):
// they are put together again, and what bash replaces is only what follows
// the last '='.
func complete(app *cli.App, shell string, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	strip := ""
	if shell == "bash" {
		var merged []string
		joined := false
		for i := 0; i < len(words); i++ {
			w := words[i]
			if w == "=" && len(merged) > 0 {
				merged[len(merged)-1] += "="
				if i+1 < len(words) {
					merged[len(merged)-1] += words[i+1]
					i++
				}
				joined = i == len(words)-1
				continue
			}
			merged = append(merged, w)
			joined = false
		}
		words = merged
		if cur := words[len(words)-1]; joined {
			strip = cur[:strings.LastIndex(cur, "=")+1]
		}
	}
	k := &completer{app: app}
	cands := k.candidates(words)
	var out []string
	for _, c := range cands {
		if strip != "" {
			if !strings.HasPrefix(c, strip) {
				continue
			}
			c = c[len(strip):]
		}
		out = append(out, c)
	}
	return out
}

func (k *completer) flags() []cli.Flag {
	if k.cmd == nil {
		return k.app.Flags
	}
	return k.cmd.Flags
}

func (k *completer) commands() []*cli.Command {
	if k.cmd == nil {
		return k.app.Commands
	}
	return k.cmd.Subcommands
}

// findFlag finds a flag by any of its names: the command's own first, then
// any ig has (every flag is accepted before the command too).
func (k *completer) findFlag(name string) cli.Flag {
	for _, set := range [][]cli.Flag{k.flags(), k.app.Flags, gadgetFlags()} {
		for _, f := range set {
			if slices.Contains(f.Names(), name) {
				return f
			}
		}
	}
	for _, g := range tracers.Gadgets() {
		for _, f := range g.Flags {
			if slices.Contains(f.Names(), name) {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

func (k *completer) candidates(words []string) []string {
	cur := words[len(words)-1]
	var pending cli.Flag // a flag whose value is the next word
	for _, w := range words[:len(words)-1] {
		if pending != nil {
			k.sawValue(pending, w)
			pending = nil
			continue
		}
		if w == "--" {
			return nil
		}
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := k.findFlag(name)
			if f == nil {
				continue
			}
			if hasValue {
				k.sawValue(f, value)
			} else if takesValue(f) {
				pending = f
			}
			continue
		}
		if sub := findCommand(k.commands(), w); sub != nil && len(k.args) == 0 {
			k.cmd = sub
			k.path = append(k.path, sub.Name)
			continue
		}
		k.args = append(k.args, w)
	}
	if pending != nil {
		return k.values(pending, cur, "")
	}
	if strings.HasPrefix(cur, "-") {
		if name, value, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			f := k.findFlag(name)
			if f == nil || !takesValue(f) {
				return nil
			}
			return k.values(f, value, cur[:len(cur)-len(value)])
		}
		return k.flagNames(cur)
	}
	return k.words(cur)
}

// sawValue keeps the runtime flags' values: -c <TAB> asks those runtimes.
func (k *completer) sawValue(f cli.Flag, v string) {
	switch f.Names()[0] {
	case "runtimes":
		k.rt.Runtimes, k.rt.Explicit = nil, true
		for _, n := range strings.Split(v, ",") {
			k.rt.Runtimes = append(k.rt.Runtimes, strings.ToLower(strings.TrimSpace(n)))
		}
	case "docker-socketpath":
		k.rt.DockerSocket = v
	case "containerd-socketpath":
		k.rt.ContainerdSocket = v
	case "containerd-namespace":
		k.rt.ContainerdNamespace = v
	case "crio-socketpath":
		k.rt.CrioSocket = v
	case "podman-socketpath":
		k.rt.PodmanSockets = append(k.rt.PodmanSockets, v)
	}
}

// flagNames are the flags of the command, long names first; short ones
// unless "--" was typed.
func (k *completer) flagNames(cur string) []string {
	var long, short []string
	for _, f := range k.flags() {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		desc := ""
		if d, ok := f.(cli.DocGenerationFlag); ok {
			desc = strings.ReplaceAll(d.GetUsage(), "`", "")
		}
		for _, n := range f.Names() {
			c := "-" + n
			if len(n) > 1 {
				c = "--" + n
			}
			if !strings.HasPrefix(c, cur) {
				continue
			}
			if len(n) > 1 {
				long = append(long, described(c, desc))
			} else {
				short = append(short, described(c, desc))
			}
		}
	}
	return append(long, short...)
}

// described is a candidate with its description, tab-separated (the
// scripts show it where the shell can, and drop it in bash).
func described(c, desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	if len(desc) > 80 {
		desc = desc[:77] + "..."
	}
	if desc == "" {
		return c
	}
	return c + "\t" + desc
}

// words completes a word that is not a flag: a subcommand, a help topic,
// a shell; after a gadget, its flags.
func (k *completer) words(cur string) []string {
	var names []string
	switch {
	case k.cmd != nil && k.cmd.Name == "help":
		cmds := k.app.Commands
		for _, a := range k.args {
			c := findCommand(cmds, a)
			if c == nil {
				return nil
			}
			cmds = c.Subcommands
		}
		for _, c := range cmds {
			if !c.Hidden && c.Name != "help" {
				names = append(names, described(c.Name, c.Usage))
			}
		}
	case k.cmd != nil && k.cmd.Name == "completion":
		if len(k.args) == 0 {
			names = []string{"bash", "zsh", "fish"}
		}
	case len(k.commands()) > 0 && len(k.args) == 0:
		for _, c := range k.commands() {
			if !c.Hidden {
				names = append(names, described(c.Name, c.Usage))
			}
		}
	case k.cmd != nil && cur == "":
		return k.flagNames("")
	}
	return withPrefix(names, cur)
}

func withPrefix(cands []string, cur string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			out = append(out, c)
		}
	}
	return out
}

// gadget is the gadget named so far, if any.
func (k *completer) gadget() *tracers.Gadget {
	g, _ := tracers.Lookup(strings.Join(k.path, " "))
	return g
}

// values completes the value of flag f, typed so far as cur; prefix is
// what precedes it in the word ("--runtimes=").
func (k *completer) values(f cli.Flag, cur, prefix string) []string {
	name := f.Names()[0]
	var cands []string
	list := false // a comma-separated list: complete its last item
	switch name {
	case "containername":
		cands, list = containerNames(&k.rt), true
	case "runtimes":
		cands, list = []string{runtimes.Docker, runtimes.Containerd, runtimes.CRIO, runtimes.Podman}, true
	case "btf-sources":
		cands, list = []string{"vmlinux", "embedded", "btfhub"}, true
	case "output":
		if rest, ok := strings.CutPrefix(cur, "columns="); ok {
			i := strings.LastIndex(rest, ",") + 1
			return k.listValues(k.columns(), "columns="+rest[:i], rest[i:], prefix)
		}
		cands = outputFormats(f)
		if g := k.gadget(); g != nil {
			for _, o := range g.Outputs {
				if n, _, takesArg := strings.Cut(o, "="); takesArg {
					cands = append(cands, n+"=")
				} else {
					cands = append(cands, n)
				}
			}
		}
	case "sort":
		var cols []string
		for _, c := range k.columns() {
			cols = append(cols, c, "-"+c)
		}
		cands, list = cols, true
	case "variant":
		if g := k.gadget(); g != nil {
			if r, ok := tracers.RequirementsOf(g.FullName()); ok {
				for _, v := range r.Variants {
					cands = append(cands, v.Name)
				}
			}
		}
	default:
		if d, ok := f.(cli.DocGenerationFlag); ok {
			cands = choices(d.GetUsage())
			switch p := placeholder(d.GetUsage()); {
			case p == "PATH" || p == "FILE" || p == "DIR" || p == "SOCKET" || name == "btf-cache-dir":
				return []string{filesDirective}
			case strings.Contains(p, "|"): // `4|6`
				cands = strings.Split(p, "|")
			}
		}
	}
	if list {
		i := strings.LastIndex(cur, ",") + 1
		return k.listValues(cands, cur[:i], cur[i:], prefix)
	}
	var out []string
	for _, c := range withPrefix(cands, cur) {
		out = append(out, prefix+c)
	}
	return out
}

// listValues completes the last item of a comma-separated list; done are
// the items before it (with their commas), not offered again.
func (k *completer) listValues(cands []string, done, cur, prefix string) []string {
	_, items, _ := strings.Cut(done, "=") // "columns=a,b,": a and b
	if !strings.Contains(done, "=") {
		items = done
	}
	given := strings.Split(strings.TrimSuffix(items, ","), ",")
	var out []string
	for _, c := range withPrefix(cands, cur) {
		if !slices.Contains(given, c) {
			out = append(out, prefix+done+c)
		}
	}
	return out
}

// columns are the gadget's columns, for -o columns= and --sort.
func (k *completer) columns() []string {
	if g := k.gadget(); g != nil {
		return g.Schema.Columns()
	}
	return nil
}

// placeholder is a usage's `NAME`, as urfave/cli shows it.
func placeholder(usage string) string {
	_, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "`")
	return name
}

// choices reads a flag's fixed values from its usage: "...: tcp, udp, unix
// or all" (the form ig's usages use).
func choices(usage string) []string {
	i := strings.LastIndex(usage, ": ")
	if i < 0 || !strings.Contains(usage[i:], " or ") {
		return nil
	}
	s := strings.ReplaceAll(usage[i+2:], " or ", ", ")
	var out []string
	for _, w := range strings.Split(s, ", ") {
		w = strings.TrimSpace(w)
		if w == "" || strings.ContainsAny(w, " ()") {
			return nil
		}
		out = append(out, w)
	}
	return out
}

// outputFormats reads -o's formats from its usage ("columns, json,
// jsonpretty, yaml, or columns=a,b,c"), so that a format added there is offered
// too; "columns=a,b,c" is offered as "columns=".
func outputFormats(f cli.Flag) []string {
	usage := ""
	if d, ok := f.(cli.DocGenerationFlag); ok {
		usage = d.GetUsage()
	}
	var out []string
	usage = strings.ReplaceAll(strings.ReplaceAll(usage, ", or ", ", "), " or ", ", ")
	for _, w := range strings.Split(usage, ", ") {
		w = strings.TrimSpace(w)
		if strings.Contains(w, " ") {
			return []string{"columns", "json", "jsonpretty", "yaml", "columns="}
		}
		if name, _, ok := strings.Cut(w, "="); ok {
			w = name + "="
		}
		if w != "" && !slices.Contains(out, w) && !strings.ContainsAny(w, "()") {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = []string{"columns", "json", "jsonpretty", "yaml", "columns="}
	}
	return out
}
