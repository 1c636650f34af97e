package output

import (
	"unicode/utf8"
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

// runeWidth is how many columns b takes on a terminal (a rune each).
func runeWidth(b []byte) int { return utf8.RuneCount(b) }

// cutTo cuts b[start:] to width runes, the last one an ellipsis when
// something was cut.
func cutTo(b []byte, start, width int) []byte {
	if width <= 0 {
		return b[:start]
	}
	if runeWidth(b[start:]) <= width {
		return b
	}
	i, n := start, 0
	for n < width-1 {
		_, size := utf8.DecodeRune(b[i:])
		i += size
		n++
	}
	return append(b[:i], ellipsis...)
}

// cutString is cutTo for a string.
func cutString(s string, width int) string {
	if runeWidth([]byte(s)) <= width {
		return s
	}
	return string(cutTo([]byte(s), 0, width))
}
