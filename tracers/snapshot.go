package tracers

import (
	"slices"

	"github.com/ig-tracer/ig/output"
)

// PrintSnapshot prints a snapshot gadget's rows once: a table in columns
// mode, one JSON array otherwise.
func PrintSnapshot[T any, PT eventPtr[T]](env *Env, rows []T) error {
	if env.Enrich != nil {
		// The collection was refreshed just before: what it does not
		// know now is no container's.
		for i := range rows {
			env.Enrich(PT(&rows[i]).Common())
		}
	}
	if env.Accept != nil {
		rows = slices.DeleteFunc(rows, func(row T) bool { return !env.Accept(PT(&row).Common()) })
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
