package output

import (
	"fmt"
	"io"
	"strings"
)

// Interval is one bucket of a histogram: how many values fell in
// [Start, End]. The JSON names are Inspektor Gadget's.
type Interval struct {
	Count uint64 `json:"count" desc:"how many values fell in the bucket"`
	Start uint64 `json:"start" desc:"the bucket's smallest value"`
	End   uint64 `json:"end" desc:"the bucket's largest value"`
}

// Histogram is a log2 histogram as Inspektor Gadget prints it in JSON:
// {"unit":"us","intervals":[{"count":…,"start":…,"end":…}]}. A gadget's
// report type embeds it.
type Histogram struct {
	Unit      string     `json:"unit" desc:"the unit of the buckets' bounds: us (microseconds) or ms"`
	Intervals []Interval `json:"intervals" desc:"the buckets, from the smallest values up to the largest bucket that counted any"`
}

// Log2Histogram turns the kernel's log2 slots (slot i counts values v with
// 2^i <= v < 2^(i+1), slot 0 also counting 0; IG_HIST_SLOTS in
// bpf/histogram.h) into intervals, up to the last slot that counted any.
func Log2Histogram(unit string, slots []uint64) Histogram {
	last := -1
	for i, n := range slots {
		if n > 0 {
			last = i
		}
	}
	h := Histogram{Unit: unit, Intervals: make([]Interval, 0, last+1)}
	for i := 0; i <= last; i++ {
		start := uint64(1) << i
		end := 2*start - 1
		if i == 0 {
			start = 0
		}
		h.Intervals = append(h.Intervals, Interval{Count: slots[i], Start: start, End: end})
	}
	return h
}

// Total is the number of values counted.
func (h *Histogram) Total() uint64 {
	var n uint64
	for _, iv := range h.Intervals {
		n += iv.Count
	}
	return n
}

// histogramBar is the width of the distribution column, as bcc's.
const histogramBar = 40

// WriteText prints the histogram for people, as bcc's tools do:
//
//	     usecs               : count    distribution
//	         0 -> 1          : 0        |                                        |
//	         2 -> 3          : 12       |*****                                   |
func (h *Histogram) WriteText(w io.Writer) error {
	var top uint64
	for _, iv := range h.Intervals {
		top = max(top, iv.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s%-*s : count    distribution\n", 9, "", 16, unitName(h.Unit))
	for _, iv := range h.Intervals {
		stars := 0
		if top > 0 {
			stars = int(iv.Count * histogramBar / top)
		}
		fmt.Fprintf(&b, "%10d -> %-10d : %-8d |%s%s|\n", iv.Start, iv.End, iv.Count,
			strings.Repeat("*", stars), strings.Repeat(" ", histogramBar-stars))
	}
	if len(h.Intervals) == 0 {
		b.WriteString("          (nothing counted)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unitName is the heading bcc gives a unit.
func unitName(unit string) string {
	switch unit {
	case "us":
		return "usecs"
	case "ms":
		return "msecs"
	case "ns":
		return "nsecs"
	}
	return unit
}
