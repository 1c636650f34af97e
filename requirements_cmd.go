package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// requirementRow is one gadget in `ig requirements`.
type requirementRow struct {
	Gadget    string `json:"gadget" column:"gadget,width:22"`
	MinKernel string `json:"minKernel" column:"minkernel,width:9"`
	Configs   string `json:"configs" column:"config,width:30"`
	Verdict   string `json:"verdict" column:"host,width:40"`
}

var requirementSchema = output.NewSchema[requirementRow]()

// requirementJSON is the -o json form: the whole row and this host's verdict.
type requirementJSON struct {
	tracers.Requirements
	MinKernel string   `json:"minKernel"`
	OK        bool     `json:"ok"`
	Variant   string   `json:"variant,omitempty"`
	Missing   []string `json:"missing"`
}

func requirementsCommand() *cli.Command {
	return &cli.Command{
		Name:         "requirements",
		Usage:        "what each gadget needs from the kernel, and whether this host has it",
		OnUsageError: usageError,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "markdown", Usage: "print the README's table"}),
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
					env.Warnf("not root: tracepoints, program and map types not probed; verdicts use the kernel version and config only")
				}
			}
			if err != nil {
				return err
			}
			return printRequirements(c, format, host)
		},
	}
}

func printRequirements(c *cli.Context, format output.Format, host *tracers.Host) error {
	if format.Mode != output.ModeColumns {
		var all []requirementJSON
		for _, r := range tracers.Table {
			v := host.Check(&r)
			all = append(all, requirementJSON{Requirements: r, MinKernel: r.MinKernel(), OK: v.OK, Variant: v.Variant, Missing: append([]string{}, v.Missing...)})
		}
		var out []byte
		var err error
		if format.Mode == output.ModeJSONPretty {
			out, err = json.MarshalIndent(all, "", "  ")
		} else {
			out, err = json.Marshal(all)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Println(string(out))
		return err
	}
	var rows []requirementRow
	for _, r := range tracers.Table {
		v := host.Check(&r)
		verdict := "✘ " + v.Reason()
		if v.OK {
			verdict = "✔ " + v.Variant
		}
		var configs []string
		for _, variant := range r.Variants {
			if s := variant.ConfigsShort(); s != "" {
				configs = append(configs, strings.ReplaceAll(s, "`", ""))
			}
		}
		rows = append(rows, requirementRow{Gadget: r.Gadget, MinKernel: r.MinKernel(), Configs: strings.Join(configs, " | "), Verdict: verdict})
	}
	p, err := output.NewPrinter[requirementRow](os.Stdout, requirementSchema, format, requirementSchema.Columns())
	if err != nil {
		return err
	}
	fmt.Printf("kernel %s; config: %s; all gadgets need CONFIG_BPF, CONFIG_BPF_SYSCALL and kernel BTF (or --btf)\n",
		host.Release, orNone(host.ConfigSource))
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
		Name:  "version",
		Usage: "print ig's version and the commit it was built from",
		Action: func(c *cli.Context) error {
			fmt.Printf("ig %s (commit %s)\n", version, commit)
			return nil
		},
	}
}
