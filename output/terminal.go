package output

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// TerminalRows says whether w is a terminal and, if so, how many lines it
// shows (0 when it does not say).
func TerminalRows(w io.Writer) (rows int, isTerminal bool) {
	rows, _, isTerminal = terminalSize(w)
	return rows, isTerminal
}

// terminalColumns is how wide w is when it is a terminal that says; 0
// otherwise.
func terminalColumns(w io.Writer) int {
	_, cols, _ := terminalSize(w)
	return cols
}

func terminalSize(w io.Writer) (rows, cols int, isTerminal bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0, false
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return 0, 0, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, true
	}
	return int(ws.Row), int(ws.Col), true
}
