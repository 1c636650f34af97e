package tracers

// Histograms adds up the kernel's log2 histograms (struct ig_hist of
// bpf/histogram.h: slots, count, sum) into reports: a profile gadget
// counts per namespace in the kernel, and folds namespaces into containers
// (the host's processes, whatever their namespace, make one report).
type Histograms[R any] struct {
	order  []string
	groups map[string]*histogramGroup[R]
}

type histogramGroup[R any] struct {
	row        R
	slots      []uint64
	count, sum uint64
}

// Add adds a histogram to the report of key, made from row the first time.
func (h *Histograms[R]) Add(key string, row R, slots []uint64, count, sum uint64) {
	if h.groups == nil {
		h.groups = map[string]*histogramGroup[R]{}
	}
	g, ok := h.groups[key]
	if !ok {
		g = &histogramGroup[R]{row: row, slots: make([]uint64, len(slots))}
		h.groups[key] = g
		h.order = append(h.order, key)
	}
	for i, n := range slots {
		g.slots[i] += n
	}
	g.count += count
	g.sum += sum
}

// Rows gives the reports in the order they were first added, each
// completed by finish from its sums.
func (h *Histograms[R]) Rows(finish func(row *R, slots []uint64, count, sum uint64)) []R {
	rows := make([]R, 0, len(h.order))
	for _, key := range h.order {
		g := h.groups[key]
		finish(&g.row, g.slots, g.count, g.sum)
		rows = append(rows, g.row)
	}
	return rows
}
