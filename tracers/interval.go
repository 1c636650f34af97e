package tracers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
)

// IntervalFlags are the flags of every top gadget (the interval runner
// reads them), with the gadget's default order.
func IntervalFlags(defaultSort string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "interval", Value: 1, Usage: "print a table every `SECONDS`"},
		&cli.StringFlag{Name: "sort", Value: defaultSort, Usage: "order rows by these `COLUMNS`, comma-separated, -col for descending"},
		&cli.IntFlag{Name: "max-rows", Aliases: []string{"m"}, Value: 50, Usage: "show at most `N` rows (on a terminal, also no more than fit)"},
	}
}

// IntervalSpec is what a top gadget hands to RunInterval: the hash map its
// eBPF program adds up in (key K, value V: the bpf2go types), and how an
// entry becomes a row.
type IntervalSpec[T, K, V any] struct {
	Map string
	// Row fills row (zeroed) from one entry; false drops the entry.
	Row func(key *K, value *V, row *T) bool
}

// RunInterval is the whole life of a top gadget: load and attach, then
// every --interval read and clear the kernel's map, attribute each row to
// its container, filter, sort by --sort, keep --max-rows and print, until
// ctx ends; then print what was counted since the last table, and detach.
func RunInterval[T any, PT eventPtr[T], K, V any](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s IntervalSpec[T, K, V]) error {
	seconds := env.Args.Int("interval")
	if seconds < 1 {
		return fmt.Errorf("--interval %d: want 1 or more seconds", seconds)
	}
	maxRows := env.Args.Int("max-rows")
	if maxRows < 1 {
		return fmt.Errorf("--max-rows %d: want 1 or more", maxRows)
	}
	sorter, err := env.Schema.ParseSort(env.Args.String("sort"))
	if err != nil {
		return err
	}
	printer, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	screenRows, terminal := output.TerminalRows(env.Stdout)
	redraw := terminal && env.Format.Mode == output.ModeColumns

	if _, ok := spec.Maps[s.Map]; !ok {
		return fmt.Errorf("eBPF object has no map %s", s.Map)
	}
	p, _, done, err := start(ctx, env, spec, consts, nil)
	if err != nil {
		return err
	}
	defer done()
	m := p.Coll.Maps[s.Map]

	d := drainer[K, V]{m: m}
	var lostReported uint64
	// Namespaces the runtimes had not told about yet when a table was
	// made: asked again a moment later, so that the kernel learns its
	// verdict before the next table rather than after it.
	var unsettled []Event
	var askAgain <-chan time.Time
	learn := func() {
		still := unsettled[:0]
		for _, e := range unsettled {
			if !env.Enrich(&e) {
				still = append(still, e)
			} else if e.Runtime.RuntimeName == "" {
				p.LearnVerdict(e.MountNsID, e.MountNsSerial, env.Accept(&e))
			}
		}
		unsettled = still
		askAgain = nil
		if len(unsettled) > 0 {
			askAgain = time.After(askAgainAfter)
		}
	}
	leftOut := map[uint64]bool{} // namespaces the kernel let by and ig left out (-v)
	table := func() error {
		var rows []T
		fromKernel := 0
		err := d.drain(func(k *K, v *V) {
			fromKernel++
			var row T
			if !s.Row(k, v, &row) {
				return
			}
			e := PT(&row).Common()
			fillNames(e)
			settled := true
			if env.Enrich != nil {
				settled = env.Enrich(e) // a namespace not known yet is shown as the host's
			}
			if env.Accept != nil {
				if !settled {
					unsettled = append(unsettled, *e)
				}
				pass := env.Accept(e)
				if settled && e.Runtime.RuntimeName == "" {
					// As the stream runner does: the kernel decides this
					// namespace of no container from now on.
					p.LearnVerdict(e.MountNsID, e.MountNsSerial, pass)
				}
				if !pass {
					if env.Verbose && !leftOut[e.MountNsID] && len(leftOut) < 1024 {
						leftOut[e.MountNsID] = true
						env.Logf("mount namespace %d: not selected; its rows are left out", e.MountNsID)
					}
					return
				}
			}
			rows = append(rows, row)
		})
		if err != nil {
			return err
		}
		if n := p.Lost(); n > lostReported {
			env.Warnf("%d updates not counted (the kernel's table of %d entries was full); %d in all", n-lostReported, m.MaxEntries(), n)
			lostReported = n
		}
		rows = output.Keep(env.Format.Filter, rows) // -F, before -m counts
		output.SortRows(rows, sorter)
		total := len(rows)
		env.Logf("%d rows from the kernel, %d after filters", fromKernel, total)
		keep := maxRows
		if redraw && screenRows > 3 {
			keep = min(keep, screenRows-3) // the title, the header and a spare line
		}
		rows = rows[:min(keep, total)]
		if len(unsettled) > 0 && askAgain == nil {
			askAgain = time.After(askAgainAfter)
		}
		title := fmt.Sprintf("%s  %d of %d rows", time.Now().Format("15:04:05"), len(rows), total)
		if err := printer.PrintInterval(rows, title, redraw); err != nil {
			return outputError(err)
		}
		return nil
	}

	tick := time.NewTicker(time.Duration(seconds) * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := table(); err != nil {
				return err
			}
		case <-askAgain:
			learn()
		case <-ctx.Done():
			// What was counted since the last table is shown too: a
			// --timeout shorter than --interval still prints one.
			p.Detach()
			return table()
		}
	}
}

// DrainMap reads and clears the hash map m, calling each for every entry
// it held (summary gadgets' Collect; RunInterval keeps its drainer).
func DrainMap[K, V any](m *ebpf.Map, each func(*K, *V)) error {
	d := drainer[K, V]{m: m}
	return d.drain(each)
}

// askAgainAfter is how soon a namespace the runtimes had not told about is
// asked about again (the collection refreshes when asked).
const askAgainAfter = 100 * time.Millisecond

// drainer reads and clears a hash map, in batches where the kernel can
// (5.6), else entry by entry.
type drainer[K, V any] struct {
	m          *ebpf.Map
	noBatch    bool
	keys       []K
	values     []V
	singleKeys []K
}

const drainBatch = 256

func (d *drainer[K, V]) drain(each func(*K, *V)) error {
	if !d.noBatch {
		err := d.batch(each)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return err
		}
		d.noBatch = true
	}
	return d.oneByOne(each)
}

func (d *drainer[K, V]) batch(each func(*K, *V)) error {
	if d.keys == nil {
		d.keys, d.values = make([]K, drainBatch), make([]V, drainBatch)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := d.m.BatchLookupAndDelete(&cursor, d.keys, d.values, nil)
		for i := 0; i < n; i++ {
			each(&d.keys[i], &d.values[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil // that was the last batch
		}
		if err != nil {
			return fmt.Errorf("read map %s: %w", d.m, err)
		}
	}
}

// oneByOne collects the keys first: deleting while walking would restart
// the walk.
func (d *drainer[K, V]) oneByOne(each func(*K, *V)) error {
	d.singleKeys = d.singleKeys[:0]
	var k K
	it := d.m.Iterate()
	var v V
	for it.Next(&k, &v) {
		d.singleKeys = append(d.singleKeys, k)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read map %s: %w", d.m, err)
	}
	for i := range d.singleKeys {
		var v V
		if err := d.m.LookupAndDelete(&d.singleKeys[i], &v); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				// Before 5.14 hash maps cannot do both at once; an update
				// between the two is lost to this table, not counted twice.
				if err = d.m.Lookup(&d.singleKeys[i], &v); err == nil {
					err = d.m.Delete(&d.singleKeys[i])
				}
			}
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read map %s: %w", d.m, err)
			}
		}
		each(&d.singleKeys[i], &v)
	}
	return nil
}
