package tracers

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
)

// SnapshotFlags are the flags of every snapshot gadget: PrintSnapshot
// reads them. Without --sort the rows keep the gadget's own order.
func SnapshotFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "sort", Usage: "order rows by these `COLUMNS`, comma-separated, -col for descending (default: the gadget's own order)"},
		&cli.IntFlag{Name: "max-rows", Aliases: []string{"m"}, Usage: "show at most `N` rows, the first after --sort (0: all)",
			Action: func(_ *cli.Context, v int) error {
				if v < 0 {
					return fmt.Errorf("--max-rows %d: want 0 (all) or more", v)
				}
				return nil
			}},
	}
}

// SnapshotSorter parses the run's --sort against the gadget's schema; an
// unknown column is an error that lists the sortable ones.
func SnapshotSorter(env *Env) (output.Sorter, error) {
	return env.Schema.ParseSort(env.Args.String("sort"))
}

// PrintSnapshot prints a snapshot gadget's rows once: those the container
// filters take, ordered by --sort, at most --max-rows of them; a table in
// columns mode, one JSON array otherwise.
func PrintSnapshot[T any, PT eventPtr[T]](env *Env, rows []T) error {
	return PrintSnapshotNet[T, PT](env, rows, nil)
}

// PrintSnapshotNet is PrintSnapshot for rows that may have no process
// (mount namespace 0: a socket no process holds open): netNs gives such a
// row's network namespace, which attributes and filters it.
func PrintSnapshotNet[T any, PT eventPtr[T]](env *Env, rows []T, netNs func(*T) uint64) error {
	sorter, err := SnapshotSorter(env)
	if err != nil {
		return err
	}
	maxRows := env.Args.Int("max-rows")
	if maxRows < 0 {
		return fmt.Errorf("--max-rows %d: want 0 (all) or more", maxRows)
	}
	rows = FilterSnapshot[T, PT](env, rows, netNs)
	rows = output.Keep(env.Format.Filter, rows) // -F, before -m counts
	output.SortRows(rows, sorter)               // stable: rows equal by --sort keep the gadget's order
	if maxRows > 0 && len(rows) > maxRows {
		env.Logf("%d rows, %d shown (--max-rows)", len(rows), maxRows)
		rows = rows[:maxRows]
	}
	p, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	if err := p.PrintAll(rows); err != nil {
		return outputError(err)
	}
	return nil
}

// FilterSnapshot attributes a snapshot's rows to their containers and
// keeps those the container filters (-c, --containers, --host) take; netNs
// is as for PrintSnapshotNet (nil: every row has a process).
func FilterSnapshot[T any, PT eventPtr[T]](env *Env, rows []T, netNs func(*T) uint64) []T {
	kept := rows[:0]
	for i := range rows {
		e := PT(&rows[i]).Common()
		fillNames(e)
		accepted := true
		switch {
		case netNs != nil && e.MountNsID == 0:
			e.Runtime, e.K8s, accepted, _ = env.NetContainer(netNs(&rows[i]))
		default:
			if env.Enrich != nil {
				// The collection was refreshed just before: what
				// it does not know now is no container's.
				env.Enrich(e)
			}
			accepted = env.Accept == nil || env.Accept(e)
		}
		if accepted {
			kept = append(kept, rows[i])
		}
	}
	return kept
}
