package tracers

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
)

// SummaryFlags are the flags of every profile gadget (the summary runner
// reads them).
func SummaryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "interval", Value: 0, Usage: "print a report every `SECONDS` and start again (0: one report, when stopped)"},
	}
}

// SummarySpec is what a profile gadget hands to RunSummary.
type SummarySpec[T any] struct {
	// Collect reads what the kernel gathered since the last call, clears
	// it, and returns the report's rows.
	Collect func(p *Program) ([]T, error)
	// Text prints the rows for people (the columns mode); nil prints them
	// as a table of the gadget's columns.
	Text func(w io.Writer, rows []T) error
	// Own prints the rows in one of the gadget's own formats
	// (Gadget.Outputs, e.g. profile cpu's folded and pprof=FILE).
	Own func(w io.Writer, f output.Format, rows []T) error
	// PerfEvent is what the gadget's perf_event programs sample (profile
	// cpu: the CPU clock); nil for a gadget without any.
	PerfEvent *PerfEvent
	// Collecting, if set, runs while the gadget collects, until ctx ends
	// (profile cpu notes the processes it sampled, while they live).
	Collecting func(ctx context.Context, p *Program)
}

// RunSummary is the whole life of a profile gadget: load and attach,
// collect until ctx ends (Ctrl-C, SIGTERM, --timeout), detach, and print
// one report; with --interval N, also print a report every N seconds and
// start again, as bcc's tools do.
func RunSummary[T any](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s SummarySpec[T]) error {
	seconds := env.Args.Int("interval")
	if seconds < 0 {
		return fmt.Errorf("--interval %d: want 0 (one report when stopped) or more seconds", seconds)
	}
	if env.Format.Mode == output.ModeOwn && s.Own == nil {
		return fmt.Errorf("output %s: not a format of this gadget", env.Format.Name)
	}
	printer, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	p, following, done, err := start(ctx, env, spec, consts, func(p *Program) { p.PerfEvent = s.PerfEvent })
	if err != nil {
		return err
	}
	defer done()
	if s.Collecting != nil {
		go s.Collecting(following, p)
	}
	if _, terminal := output.TerminalRows(env.Stderr); terminal {
		fmt.Fprintln(env.Stderr, "Collecting; Ctrl-C prints the report and ends.")
	}

	var lostReported uint64
	report := func(title bool) error {
		rows, err := s.Collect(p)
		if err != nil {
			return err
		}
		if n := p.Lost(); n > lostReported {
			env.Warnf("%d samples not counted (a kernel table was full); %d in all", n-lostReported, n)
			lostReported = n
		}
		switch env.Format.Mode {
		case output.ModeOwn:
			err = s.Own(env.Stdout, env.Format, rows)
		case output.ModeColumns:
			if title {
				fmt.Fprintf(env.Stdout, "%s\n", time.Now().Format("15:04:05"))
			}
			if s.Text != nil {
				err = s.Text(env.Stdout, rows)
			} else {
				err = printer.PrintAll(rows)
			}
		default: // JSON: one object a row, a line each (jsonpretty: indented)
			for i := range rows {
				printer.Print(&rows[i])
			}
			err = printer.Flush()
		}
		if err != nil {
			return outputError(err)
		}
		return nil
	}

	var tick <-chan time.Time
	if seconds > 0 {
		t := time.NewTicker(time.Duration(seconds) * time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if err := report(true); err != nil {
				return err
			}
		case <-ctx.Done():
			p.Detach()
			return report(seconds > 0)
		}
	}
}
