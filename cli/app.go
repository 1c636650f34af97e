// Package cli is ig's command line, built from the gadget registry
// (tracers/): its commands and flags, the checks before anything loads,
// and the wiring of a gadget's run (kernel types, container runtimes,
// filters, signals).
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/cilium/ebpf/rlimit"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
	_ "github.com/ig-tracer/ig/tracers/all"
)

// Set at build time by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = "unknown"
)

// memoryLimit keeps the garbage collector busy enough at start-up, when
// loading kernel types makes most of ig's garbage, that the peak resident
// memory stays low. It is a soft limit: a larger live heap just costs GC time.
// At 12 MiB the collector ran almost without pause while the kernel's BTF
// was parsed (then read whole, not lazily as now): start-up took 165 ms
// instead of 60.
const memoryLimit = 24 << 20

// Main runs ig with the process's arguments; on an error it prints one line
// and exits 1.
func Main() {
	debug.SetMemoryLimit(memoryLimit)
	app := newApp()
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ig: %s\n", oneLine(err))
		os.Exit(1)
	}
}

// oneLine keeps every error to a single line, as users read them in a hurry.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Flags are grouped by the commands they apply to. Each is accepted before
// the command, after a category (`ig trace -o json open`) or after the
// command, wherever it applies; checkFlagsApply refuses one given for a
// command it does not apply to, and each command's help lists only its own.

// outputFlags apply to every command that prints.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "columns",
			Usage: "columns, json, jsonpretty, yaml, or columns=a,b,c"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say what ig does (BTF source, mounts, variants)"},
		filterFlag(),
	}
}

// timeoutFlag applies to the commands that run until stopped.
func timeoutFlag() cli.Flag {
	return &cli.Float64Flag{Name: "timeout", Aliases: []string{"t"}, Usage: "stop after `SECONDS` (0: run until Ctrl-C)",
		Action: func(_ *cli.Context, v float64) error { return checkTimeout(v) }}
}

// variantFlag forces one of the gadget's variants (its own flag: each gadget
// has its own names).
func variantFlag(r *tracers.Requirements) cli.Flag {
	var names []string
	for _, v := range r.Variants {
		names = append(names, v.Name)
	}
	return &cli.StringFlag{Name: "variant", Usage: "use this variant, or fail saying why it cannot run here: " + strings.Join(names, ", ") + " (default: the first this kernel offers)"}
}

// filterFlags pick the processes a gadget reports.
func filterFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "host", Usage: "with -c or --containers: include host processes too"},
		&cli.IntFlag{Name: "pid", Usage: "only this process (thread group) `ID`",
			Action: func(_ *cli.Context, v int) error { return checkPid(v) }},
		&cli.StringFlag{Name: "comm", Usage: "only processes with this command `NAME`"},
	}, containerFlags()...)
}

// kernelFlags say where the kernel's config and types come from: for the
// gadgets and for the requirements check.
func kernelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "kernel-config", Usage: "read the kernel config from `PATH` (plain or gzip) instead of /proc/config.gz or /boot"},
		&cli.StringFlag{Name: "btf", Usage: "use the kernel BTF in `PATH` and nothing else"},
		&cli.StringFlag{Name: "btf-sources", Value: strings.Join(btf.DefaultSources, ","),
			Usage: "where to look for kernel BTF, in order: vmlinux, embedded, btfhub"},
		&cli.StringFlag{Name: "btfhub-url", Value: btf.DefaultHubURL, Usage: "base `URL` of a BTFHub archive"},
		&cli.StringFlag{Name: "btf-cache-dir", Value: btf.DefaultCacheDir, Usage: "where downloaded BTF is kept"},
	}
}

// gadgetFlags are every gadget's flags but its own; every flag applies to
// the gadgets, so these are also the flags accepted before any command.
func gadgetFlags() []cli.Flag {
	flags := append(outputFlags(), timeoutFlag())
	flags = append(flags, filterFlags()...)
	flags = append(flags, runtimeFlags()...)
	return append(flags, kernelFlags()...)
}

// checkFlagsApply refuses a flag given before the command (or after its
// category) that the command does not take: `ig --pid 1 requirements` would
// otherwise be silently ignored. It is every leaf command's Before.
func checkFlagsApply(c *cli.Context) error {
	lineage := c.Lineage()
	for _, cc := range lineage[1:] {
		for _, name := range cc.LocalFlagNames() {
			if name == "help" || name == "h" || commandHasFlag(c.Command, name) {
				continue
			}
			for _, f := range gadgetFlags() { // name it by its long name, whichever was typed
				if slices.Contains(f.Names(), name) {
					name = f.Names()[0]
				}
			}
			return fmt.Errorf("--%s does not apply to '%s' (see '%s --help')", name, commandPath(c), commandPath(c))
		}
	}
	return nil
}

func commandHasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

func newApp() *cli.App {
	// -v is --verbose here, so --version has no short form.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	app := &cli.App{
		Name:                 "ig",
		Usage:                "trace a Linux host and its containers with eBPF",
		Version:              version + " (commit " + commit + ")",
		Flags:                append(gadgetFlags(), cli.HelpFlag), // with our help command (help.go), cli adds no --help
		EnableBashCompletion: false,
		OnUsageError:         usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "ig: unknown command %q; commands: %s\n", name, strings.Join(commandNames(c.App.Commands), ", "))
			os.Exit(1)
		},
	}
	app.Commands = append(gadgetCommands(), listContainersCommand(), requirementsCommand(), versionCommand(), completionCommand(), helpCommand(), completeCommand())
	return app
}

func usageError(c *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%v (see '%s --help')", err, commandPath(c))
}

// commandPath is the command being run, "ig trace open".
func commandPath(c *cli.Context) string {
	var names []string
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" {
			names = append([]string{cc.Command.Name}, names...)
		}
	}
	if len(names) == 0 || names[0] != "ig" {
		names = append([]string{"ig"}, names...)
	}
	return strings.Join(names, " ")
}

func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

// gadgetCommands builds "ig <category> <gadget>" from the registry.
func gadgetCommands() []*cli.Command {
	categories := map[string]*cli.Command{}
	var out []*cli.Command
	for _, g := range tracers.Gadgets() {
		g := g
		cmd := &cli.Command{
			Name:         g.Name,
			Usage:        g.Description,
			Flags:        append(append(gadgetFlags(), variantFlag(tracers.MustRequirementsOf(g.FullName()))), g.Flags...),
			OnUsageError: usageError,
			Before:       checkFlagsApply,
			Action: func(c *cli.Context) error {
				if c.Args().Present() {
					return fmt.Errorf("%s takes no arguments, got %q (see 'ig %s --help')", g.FullName(), c.Args().First(), g.FullName())
				}
				return runGadget(c, g)
			},
		}
		if g.Category == "" {
			out = append(out, cmd)
			continue
		}
		cat, ok := categories[g.Category]
		if !ok {
			cat = &cli.Command{
				Name:         g.Category,
				Usage:        g.Category + " gadgets",
				Flags:        gadgetFlags(), // for the gadgets below: `ig trace -o json open`
				OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					names := commandNames(c.Command.Subcommands)
					if !c.Args().Present() {
						return fmt.Errorf("which %s gadget? one of: %s", c.Command.Name, strings.Join(names, ", "))
					}
					return fmt.Errorf("unknown gadget '%s %s'; %s gadgets: %s", c.Command.Name, c.Args().First(), c.Command.Name, strings.Join(names, ", "))
				},
			}
			categories[g.Category] = cat
			out = append(out, cat)
		}
		cat.Subcommands = append(cat.Subcommands, cmd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// flagValue finds a common flag wherever it was given: after the gadget
// name, after the category, or before the command.
func flagValue[V any](c *cli.Context, name string, get func(*cli.Context, string) V) V {
	for _, cc := range c.Lineage() {
		if cc.Command != nil || cc.App != nil {
			if cc.IsSet(name) {
				return get(cc, name)
			}
		}
	}
	return get(c, name)
}

func flagString(c *cli.Context, name string) string {
	return flagValue(c, name, (*cli.Context).String)
}
func flagBool(c *cli.Context, name string) bool { return flagValue(c, name, (*cli.Context).Bool) }

// runGadget checks the host, finds BTF, and runs the gadget until it ends,
// Ctrl-C, SIGTERM or --timeout.
func runGadget(c *cli.Context, g *tracers.Gadget) error {
	format, err := output.ParseFormat(flagString(c, "output"), g.Outputs...)
	if err != nil {
		return err
	}
	if err := g.Schema.Check(format); err != nil {
		return err
	}
	if format.Filter, err = g.Schema.ParseFilters(filters(c)); err != nil {
		return err
	}
	if _, err := btf.ParseSources(flagString(c, "btf-sources")); err != nil {
		return err
	}
	timeout := flagValue(c, "timeout", (*cli.Context).Float64)
	pid := flagValue(c, "pid", (*cli.Context).Int) // 0 (not set) or checked by its flag: 1 to pidMaxLimit
	env := &tracers.Env{
		Args:    c,
		Format:  format,
		Schema:  g.Schema,
		Columns: g.Columns(c),
		Filter:  tracers.Filter{Pid: uint32(pid), Comm: flagString(c, "comm")},
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Verbose: flagBool(c, "verbose"),
		Phases:  tracers.NewPhases(),
	}
	if err := checkPrivileges(); err != nil {
		return err
	}
	// The container runtimes answer while the host is checked and the
	// kernel's types are read: nothing there needs the other.
	type connected struct {
		coll *runtimes.Collection
		err  error
	}
	runtimesReady := make(chan connected, 1)
	go func() {
		coll, err := connectRuntimes(c, env)
		runtimesReady <- connected{coll, err}
	}()
	host, err := detectHost(c, env)
	if err != nil {
		return err
	}
	req, _ := tracers.RequirementsOf(g.FullName())
	verdict := host.Check(req)
	forced := c.String("variant")
	if forced != "" {
		if verdict, err = host.CheckVariant(req, forced); err != nil {
			return err
		}
	}
	verdict = verdict.ForArgs(g, c) // this run's flags may rule variants out
	if !verdict.OK {
		return verdict.Error(g.FullName())
	}
	env.Phases.Mark("host checks")
	for _, why := range verdict.PassedOver {
		env.Logf("%s: not the %s", g.FullName(), why)
	}
	if forced != "" {
		env.Logf("%s: using the %s variant (--variant)", g.FullName(), verdict.Variant)
	} else {
		env.Logf("%s: using the %s variant", g.FullName(), verdict.Variant)
	}
	// The kernel's types, if any variant that may run loads eBPF.
	var btfErr error
	if slices.ContainsFunc(append([]tracers.Verdict{verdict}, verdict.Fallbacks...),
		func(v tracers.Verdict) bool { return !variantOf(req, v.Variant).NoBPF }) {
		res, err := btf.Load(btfOptions(c, env))
		if err == nil {
			env.Logf("kernel BTF from %s (%s)", res.Source, res.Path)
			env.KernelTypes = res.Spec
			env.Phases.Mark("kernel BTF")
		}
		btfErr = err
	}
	// A refusal above does not wait for the runtimes: ig exits at once.
	rt := <-runtimesReady
	if rt.coll != nil {
		defer rt.coll.Close()
	}
	if btfErr != nil {
		return btfErr
	}
	if rt.err != nil {
		return rt.err
	}
	coll := rt.coll
	sel := selection(c)
	pushDown(format.Filter, &env.Filter, &sel)
	if err := tracers.SelectContainers(coll, sel, &env.Filter, env); err != nil {
		return err
	}
	env.Enrich = tracers.Enricher(coll)
	env.LookupNet = coll.LookupNet
	env.Containers = coll.Containers
	env.OnContainers = coll.OnChange
	env.Phases.Mark("runtimes")

	ctx, cancel := signalContext(timeout)
	defer cancel()
	go coll.Run(ctx, refreshInterval)
	return tracers.RunVariants(ctx, g, env, req, verdict)
}

// signalContext ends on Ctrl-C, SIGTERM, or after timeout seconds (0, or
// more than a time.Duration holds: never).
func signalContext(timeout float64) (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	d, ok := timeoutDuration(timeout)
	if !ok {
		return ctx, cancel
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	return ctx, func() { cancelTimeout(); cancel() }
}

func variantOf(r *tracers.Requirements, name string) tracers.Variant {
	for _, v := range r.Variants {
		if v.Name == name {
			return v
		}
	}
	return tracers.Variant{}
}

func detectHost(c *cli.Context, env *tracers.Env) (*tracers.Host, error) {
	tracefs, err := tracers.EnsureTracefs(env.Logf)
	if err != nil {
		env.Logf("%v", err) // the checker then reports the missing tracepoints
	}
	host, err := tracers.DetectHost(flagString(c, "kernel-config"), tracefs)
	if err != nil {
		return nil, err
	}
	if host.BTF, err = kernelBTF(c, env); err != nil {
		return nil, err
	}
	if host.Config == nil {
		env.Logf("no kernel config found (%s): CONFIG_* not checked", strings.Join(tracers.KernelConfigPaths(host.Release), ", "))
	} else {
		env.Logf("kernel %s, config from %s", host.Release, host.ConfigSource)
	}
	return host, nil
}

func btfOptions(c *cli.Context, env *tracers.Env) btf.Options {
	sources, _ := btf.ParseSources(flagString(c, "btf-sources")) // checked in runGadget and kernelBTF
	return btf.Options{
		Sources:  sources,
		File:     flagString(c, "btf"),
		HubURL:   flagString(c, "btfhub-url"),
		CacheDir: flagString(c, "btf-cache-dir"),
		Logf:     env.Logf,
	}
}

// checkPrivileges refuses early, before anything is loaded, when ig cannot
// load eBPF: it needs root, or CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN.
func checkPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(unix.CAP_SYS_ADMIN) || has(unix.CAP_BPF) && has(unix.CAP_PERFMON) {
		// Kernels before 5.11 charge eBPF maps to RLIMIT_MEMLOCK, often 64 KiB,
		// even for root: lift it, or every map creation fails with EPERM.
		if err := rlimit.RemoveMemlock(); err != nil {
			return fmt.Errorf("raise the locked-memory limit for eBPF maps: %w", err)
		}
		return nil
	}
	return errors.New("permission denied: ig needs root (or CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load eBPF programs; run it with sudo")
}
