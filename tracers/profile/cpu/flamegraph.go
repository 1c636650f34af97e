package cpu

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
)

// A flame graph, written here: a frame is a box as wide as its share of
// the samples, its callers below it, its callees above; a tooltip (title)
// gives its name, samples and share.

const (
	graphWidth  = 1200.0
	frameHeight = 16.0
	graphMargin = 10.0
	titleSpace  = 32.0
	minWidth    = 0.3 // narrower boxes are left out
	charWidth   = 7.0 // of the 12px monospace labels, for fitting them
)

type flameNode struct {
	name     string
	count    uint64
	children []*flameNode
}

func (n *flameNode) child(name string) *flameNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	c := &flameNode{name: name}
	n.children = append(n.children, c)
	return c
}

func (n *flameNode) depth() int {
	d := 0
	for _, c := range n.children {
		d = max(d, c.depth())
	}
	return d + 1
}

// writeFlameGraph writes rows as an SVG flame graph.
func writeFlameGraph(w io.Writer, rows []Report) error {
	root := &flameNode{name: "all"}
	for i := range rows {
		n := root
		n.count += rows[i].Count
		for _, f := range folded(&rows[i]) {
			n = n.child(f)
			n.count += rows[i].Count
		}
	}
	sortTree(root)
	height := titleSpace + float64(root.depth())*frameHeight + 2*graphMargin
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="100%%" height="100%%" fill="#f8f8f8"/>
<text x="%.0f" y="24" font-family="monospace" font-size="17" text-anchor="middle">CPU flame graph: %d samples</text>
`, graphWidth, height, graphWidth, height, graphWidth/2, root.count)
	if root.count > 0 {
		scale := (graphWidth - 2*graphMargin) / float64(root.count)
		drawFrame(bw, root, graphMargin, height-graphMargin-frameHeight, scale, root.count)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// sortTree orders callees by name, as flamegraph.pl does: the same stacks
// are drawn in the same place from one report to the next.
func sortTree(n *flameNode) {
	slices.SortFunc(n.children, func(a, b *flameNode) int { return strings.Compare(a.name, b.name) })
	for _, c := range n.children {
		sortTree(c)
	}
}

func drawFrame(w *bufio.Writer, n *flameNode, x, y, scale float64, total uint64) {
	width := float64(n.count) * scale
	if width < minWidth {
		return
	}
	label := n.name
	fmt.Fprintf(w, `<g><title>%s (%d samples, %.2f%%)</title><rect x="%.2f" y="%.0f" width="%.2f" height="%.0f" fill="%s" rx="2"/>`,
		escape(label), n.count, 100*float64(n.count)/float64(total), x, y, width, frameHeight-1, frameColor(n.name))
	if fit := int((width - 6) / charWidth); fit >= 3 {
		if len(label) > fit {
			label = label[:fit-2] + ".."
		}
		fmt.Fprintf(w, `<text x="%.2f" y="%.0f" font-family="monospace" font-size="12">%s</text>`, x+3, y+frameHeight-4, escape(label))
	}
	fmt.Fprintln(w, "</g>")
	for _, c := range n.children {
		drawFrame(w, c, x, y-frameHeight, scale, total)
		x += float64(c.count) * scale
	}
}

// frameColor is a warm colour that a frame's name always gets; kernel
// frames are orange-brown, as in flamegraph.pl's "java" palette.
func frameColor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	if strings.HasSuffix(name, "_[k]") {
		return fmt.Sprintf("rgb(%d,%d,%d)", 200+v%50, 110+(v>>8)%60, 40+(v>>16)%30)
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", 225+v%30, 80+(v>>8)%130, 40+(v>>16)%50)
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
