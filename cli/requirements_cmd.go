package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// requirementRow is one gadget in `ig requirements`. A gadget with several variants has
// one value per variant, in order, joined by " | " (the README's table has a line each).
type requirementRow struct {
	Gadget       string `json:"gadget" column:"gadget,width:22"`
	MinKernel    string `json:"minKernel" column:"minkernel,width:9"`
	Configs      string `json:"configs" column:"config,width:30"`
	ProgramTypes string `json:"programTypes" column:"programtypes,width:12"`
	Verdict      string `json:"verdict" column:"host,width:40"`
}

var requirementSchema = output.NewSchema[requirementRow]()

// requirementJSON is the -o json form: the whole row and this host's verdict.
type requirementJSON struct {
	tracers.Requirements
	MinKernel string   `json:"minKernel"` // the oldest kernel any variant runs on, or "any"
	OK        bool     `json:"ok"`
	Variant   string   `json:"variant,omitempty"`
	Missing   []string `json:"missing"`
	// PassedOver says why each variant before the one this host gets cannot run here.
	PassedOver []string           `json:"passedOver"`
	BTF        *tracers.BTFSource `json:"btf,omitempty"` // where Variant's kernel types come from, when it loads eBPF and a source has them
}

func requirementsCommand() *cli.Command {
	return &cli.Command{
		Name:         "requirements",
		Usage:        "what each gadget needs from the kernel, and whether this host has it",
		OnUsageError: usageError,
		Flags: append(append(outputFlags(), kernelFlags()...),
			&cli.BoolFlag{Name: "markdown", Usage: "print the README's table"}),
		Before: checkFlagsApply,
		Action: func(c *cli.Context) error {
			if c.Bool("markdown") {
				fmt.Print(tracers.MarkdownTable())
				return nil
			}
			format, err := output.ParseFormat(flagString(c, "output"))
			if err != nil {
				return err
			}
			env := &tracers.Env{Stdout: os.Stdout, Stderr: os.Stderr, Verbose: flagBool(c, "verbose")}
			privileged := checkPrivileges() == nil
			var host *tracers.Host
			if privileged {
				host, err = detectHost(c, env)
			} else {
				host, err = tracers.DetectHost(flagString(c, "kernel-config"), "")
				if err == nil {
					host.Probes = nil
					env.Warnf("not root: tracepoints, program and map types not probed; verdicts use the kernel version, config and BTF only")
					host.BTF, err = kernelBTF(c, env)
				}
			}
			if err != nil {
				return err
			}
			return printRequirements(os.Stdout, format, host)
		},
	}
}

// kernelBTF is where --btf, or --btf-sources in their order, would find the kernel's types,
// found without downloading anything: a host fact of the requirements check.
func kernelBTF(c *cli.Context, env *tracers.Env) (*tracers.BTFSource, error) {
	if _, err := btf.ParseSources(flagString(c, "btf-sources")); err != nil {
		return nil, err
	}
	a, err := btf.Find(btfOptions(c, env))
	if err != nil {
		return nil, err
	}
	return &tracers.BTFSource{Source: a.Source, Path: a.Path, Download: a.Download, Missing: a.Missing}, nil
}

// variantBTF is where a verdict's variant takes the kernel's types from: nil when it loads
// no eBPF, or no source has them (the verdict then says so).
func variantBTF(r *tracers.Requirements, v tracers.Verdict, host *tracers.Host) *tracers.BTFSource {
	if v.Variant == "" || variantOf(r, v.Variant).NoBPF || host.BTF == nil || host.BTF.Source == "" {
		return nil
	}
	return host.BTF
}

// perVariant is one value per variant joined by " | " ("-" for an empty one); "" when all are empty.
func perVariant(r *tracers.Requirements, value func(*tracers.Variant) string) string {
	var parts []string
	empty := true
	for i := range r.Variants {
		s := value(&r.Variants[i])
		if s == "" {
			s = "-"
		} else {
			empty = false
		}
		parts = append(parts, s)
	}
	if empty {
		return ""
	}
	return strings.Join(parts, " | ")
}

// verdictOf is the host's verdict on r as a run with no flag set would get
// it: a gadget may rule a variant out from what the running kernel says
// (Gadget.Unfit), asked only when the host was probed (root, this kernel).
func verdictOf(host *tracers.Host, r *tracers.Requirements) tracers.Verdict {
	v := host.Check(r)
	if g, ok := tracers.Lookup(r.Gadget); ok && host.Probes != nil {
		v = v.ForArgs(g, noFlags{})
	}
	return v
}

// noFlags is a run's flags, none set.
type noFlags struct{}

func (noFlags) Bool(string) bool            { return false }
func (noFlags) String(string) string        { return "" }
func (noFlags) Int(string) int              { return 0 }
func (noFlags) StringSlice(string) []string { return nil }

func printRequirements(w io.Writer, format output.Format, host *tracers.Host) error {
	if format.Mode != output.ModeColumns {
		var all []requirementJSON
		for _, r := range tracers.Table {
			v := verdictOf(host, &r)
			all = append(all, requirementJSON{Requirements: r, MinKernel: r.MinKernel(), OK: v.OK, Variant: v.Variant,
				Missing: append([]string{}, v.Missing...), PassedOver: append([]string{}, v.PassedOver...), BTF: variantBTF(&r, v, host)})
		}
		var out []byte
		var err error
		switch format.Mode {
		case output.ModeJSONPretty:
			out, err = json.MarshalIndent(all, "", "  ")
		case output.ModeYAML:
			out, err = yaml.Marshal(all) // a report, not a stream: once
			out = append([]byte("---\n"), bytes.TrimRight(out, "\n")...)
		default:
			out, err = json.Marshal(all)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(out))
		return err
	}
	var rows []requirementRow
	for _, r := range tracers.Table {
		v := verdictOf(host, &r)
		verdict := "✘ " + v.Reason()
		if v.OK {
			verdict = "✔ " + v.Variant
			if b := variantBTF(&r, v, host); b != nil && b.Download {
				verdict += " (kernel BTF to be downloaded from BTFHub)"
			}
			if len(v.PassedOver) > 0 { // why not the variants before it
				verdict += " (not " + strings.Join(v.PassedOver, "; not ") + ")"
			}
		}
		rows = append(rows, requirementRow{
			Gadget:       r.Gadget,
			MinKernel:    perVariant(&r, (*tracers.Variant).MinKernelOrAny),
			Configs:      strings.ReplaceAll(perVariant(&r, (*tracers.Variant).ConfigsShort), "`", ""),
			ProgramTypes: perVariant(&r, (*tracers.Variant).ProgramTypesShort),
			Verdict:      verdict,
		})
	}
	p, err := output.NewPrinter[requirementRow](w, requirementSchema, format, requirementSchema.Columns())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "kernel %s; config: %s; kernel BTF: %s; all gadgets need CONFIG_BPF, CONFIG_BPF_SYSCALL and kernel BTF\n",
		host.Release, orNone(host.ConfigSource), host.BTF.Describe())
	return p.PrintAll(rows)
}

func orNone(s string) string {
	if s == "" {
		return "not found"
	}
	return s
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print ig's version and the commit it was built from",
		Before: checkFlagsApply,
		Action: func(c *cli.Context) error {
			fmt.Printf("ig %s (commit %s)\n", version, commit)
			return nil
		},
	}
}
