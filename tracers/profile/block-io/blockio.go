// Package blockio is the profile block-io gadget: a histogram of block
// device I/O latency, for everything, per disk or per container.
package blockio

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Report is one histogram. Its JSON is Inspektor Gadget's profile
// block-io report (unit, intervals) with the disk and the container it
// is for when split by them.
type Report struct {
	Disk    string          `json:"disk" column:"disk,width:10" desc:"the disk (vda, sda, nvme0n1) with --per-disk; empty otherwise"`
	Runtime tracers.Runtime `json:"runtime" desc:"the container, with --per-container (empty for the host's processes and without the flag)"`
	K8s     tracers.K8s     `json:"k8s" desc:"its Kubernetes identity, with --per-container"`
	output.Histogram
}

var schema = output.NewSchema[Report]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "profile",
		Name:        "block-io",
		Description: "Summarize block device I/O latency (issue to completion) as a histogram",
		Flags: append(tracers.SummaryFlags(),
			&cli.BoolFlag{Name: "per-disk", Usage: "a histogram per disk"},
			&cli.BoolFlag{Name: "per-container", Usage: "a histogram per container, and one for the host's processes"},
		),
		Schema:  schema,
		Columns: tracers.Fixed("disk", "container"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	consts, err := tracers.BlockRequestConsts()
	if err != nil {
		return err
	}
	perDisk, perContainer := env.Args.Bool("per-disk"), env.Args.Bool("per-container")
	consts["per_disk"] = perDisk
	// Under -c or --containers the kernel lets through namespaces it has
	// no verdict for (the host's): histograms by namespace let Collect
	// drop those, as the other runners drop their events.
	consts["per_mntns"] = perContainer || env.Accept != nil
	spec, err := loadBlockio()
	if err != nil {
		return err
	}
	collect := func(p *tracers.Program) ([]Report, error) {
		return collectReports(env, p, perDisk, perContainer)
	}
	return tracers.RunSummary(ctx, env, spec, consts, tracers.SummarySpec[Report]{
		Collect: collect,
		Text: func(w io.Writer, rows []Report) error {
			return writeText(w, rows, perDisk, perContainer)
		},
	})
}

// collectReports drains the kernel's histograms and folds their mount
// namespaces into containers: the host's processes, whatever their
// namespace, make one report.
func collectReports(env *tracers.Env, p *tracers.Program, perDisk, perContainer bool) ([]Report, error) {
	m, ok := p.Coll.Maps["hists"]
	if !ok {
		return nil, fmt.Errorf("eBPF object has no map hists")
	}
	var hists tracers.Histograms[Report]
	err := tracers.DrainMap(m, func(k *blockioHistKey, h *blockioIgHist) {
		rt, k8s, accepted := env.Container(k.MntnsId)
		if !accepted {
			return
		}
		var r Report
		if perDisk {
			r.Disk = tracers.DiskName(k.Major, k.Minor)
		}
		if perContainer {
			r.Runtime, r.K8s = rt, k8s
		}
		hists.Add(r.Disk+"\x00"+r.Runtime.ContainerID, r, h.Slots[:], h.Count, h.Sum)
	})
	if err != nil {
		return nil, err
	}
	rows := hists.Rows(func(r *Report, slots []uint64, _, _ uint64) {
		r.Histogram = output.Log2Histogram("us", slots)
	})
	if len(rows) == 0 && !perDisk && !perContainer {
		// Nothing happened: still one (empty) histogram, as IG prints.
		return []Report{{Histogram: output.Log2Histogram("us", nil)}}, nil
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Disk != b.Disk {
			return a.Disk < b.Disk
		}
		return a.Runtime.ContainerName < b.Runtime.ContainerName
	})
	return rows, nil
}

// writeText prints the histograms as bcc's biolatency does, each under a
// heading that says what it is for when split.
func writeText(w io.Writer, rows []Report, perDisk, perContainer bool) error {
	for i := range rows {
		r := &rows[i]
		var heading string
		if perDisk {
			heading = "disk = " + r.Disk
		}
		if perContainer {
			if heading != "" {
				heading += ", "
			}
			if r.Runtime.ContainerName != "" {
				heading += "container = " + r.Runtime.ContainerName
			} else {
				heading += "host"
			}
		}
		if heading != "" {
			if _, err := fmt.Fprintf(w, "\n%s\n", heading); err != nil {
				return err
			}
		}
		if err := r.WriteText(w); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no block I/O")
		return err
	}
	return nil
}
