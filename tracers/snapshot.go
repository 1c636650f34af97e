package tracers

import (
	"github.com/ig-tracer/ig/output"
)

// PrintSnapshot prints a snapshot gadget's rows once: a table in columns
// mode, one JSON array otherwise.
func PrintSnapshot[T any, PT eventPtr[T]](env *Env, rows []T) error {
	return PrintSnapshotNet[T, PT](env, rows, nil)
}

// PrintSnapshotNet is PrintSnapshot for rows that may have no process
// (mount namespace 0: a socket no process holds open): netNs gives such a
// row's network namespace, which attributes and filters it.
func PrintSnapshotNet[T any, PT eventPtr[T]](env *Env, rows []T, netNs func(*T) uint64) error {
	kept := rows[:0]
	for i := range rows {
		e := PT(&rows[i]).Common()
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
	rows = kept
	p, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	if err := p.PrintAll(rows); err != nil {
		return outputError(err)
	}
	return nil
}
