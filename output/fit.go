package output

import (
	"github.com/clipperhouse/displaywidth"
)

// On a terminal, columns fit its width: a wrapped line breaks the
// columns under it, so long values are cut with an ellipsis instead.

const ellipsis = "…"

// minFitWidth is how narrow fitting makes a column (narrower when it is).
const minFitWidth = 4

// fitWidths shrinks widths, the widest column first and none below
// minFitWidth, until the line (sep spaces between columns) is at most
// total wide, or nothing can give more.
func fitWidths(widths []int, sep, total int) []int {
	w := append([]int(nil), widths...)
	line := func() int {
		n := sep * max(len(w)-1, 0)
		for _, x := range w {
			n += x
		}
		return n
	}
	for over := line() - total; over > 0; over-- {
		widest := -1
		for i, x := range w {
			if x > minFitWidth && (widest < 0 || x > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
	}
	return w
}

// displayWidth is how many columns b takes on a terminal: a byte each for
// printable ASCII (found fast), else by grapheme cluster (an East Asian
// wide character 2, a combining accent 0), as tablewriter measures.
func displayWidth(b []byte) int { return displaywidth.Bytes(b) }

var ellipsisBytes = []byte(ellipsis)

// cutTo cuts b[start:] to width columns, the last one an ellipsis when
// something was cut.
func cutTo(b []byte, start, width int) []byte {
	if width <= 0 {
		return b[:start]
	}
	if displayWidth(b[start:]) <= width {
		return b
	}
	cut := displaywidth.TruncateBytes(b[start:], width, ellipsisBytes) // a new slice
	return append(b[:start], cut...)
}

// cutString is cutTo for a string.
func cutString(s string, width int) string {
	if displaywidth.String(s) <= width {
		return s
	}
	return string(cutTo([]byte(s), 0, width))
}
