package script

import (
	"strings"
)

// restrict adds cond to the predicate of every probe of a bpftrace
// program that runs in a task's context (not BEGIN, END or interval and
// other timers, which have none): `probe /pred/ { ... }` becomes
// `probe /(pred) && (cond)/ { ... }`, and `probe { ... }` gets /cond/.
// Strings, comments and nested braces are skipped; the program is
// otherwise left as written, for bpftrace to judge.
func restrict(prog, cond string) string {
	var out strings.Builder
	depth, start := 0, 0 // start: where the current probe's header begins
	for i := 0; i < len(prog); i++ {
		switch c := prog[i]; {
		case c == '"':
			i = skipString(prog, i)
		case c == '/' && i+1 < len(prog) && prog[i+1] == '/':
			if j := strings.IndexByte(prog[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(prog)
			}
		case c == '/' && i+1 < len(prog) && prog[i+1] == '*':
			if j := strings.Index(prog[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(prog)
			}
		case c == '{':
			if depth == 0 {
				out.WriteString(withCondition(prog[start:i], cond))
				start = i
			}
			depth++
		case c == '}':
			if depth > 0 {
				depth--
			}
			if depth == 0 {
				out.WriteString(prog[start : i+1])
				start = i + 1
			}
		}
	}
	out.WriteString(prog[min(start, len(prog)):])
	return out.String()
}

// skipString returns the index of the quote that ends the string at i.
func skipString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(s)
}

// withCondition is a probe header (probes and perhaps /predicate/) with
// cond added to its predicate.
func withCondition(header, cond string) string {
	trimmed := strings.TrimRight(header, " \t\r\n")
	pad := header[len(trimmed):]
	clean := blankComments(trimmed) // the same length: indices hold in both
	if !inTask(clean) {
		return header
	}
	if strings.HasSuffix(clean, "/") {
		if open := predicateStart(clean); open >= 0 {
			return trimmed[:open] + "/(" + trimmed[open+1:len(trimmed)-1] + ") && (" + cond + ")/" + pad
		}
	}
	return trimmed + " /" + cond + "/" + pad
}

// predicateStart finds the slash that opens the predicate ending header,
// outside strings; -1 when there is none.
func predicateStart(h string) int {
	open := -1
	for i := 0; i < len(h)-1; i++ {
		switch h[i] {
		case '"':
			i = skipString(h, i)
		case '/':
			if open < 0 {
				open = i
			}
		}
	}
	return open
}

// inTask says whether a header's probes run in a task's context: BEGIN,
// END and the timers (interval, profile) do not, and get no condition.
func inTask(header string) bool {
	probes := header
	if i := strings.IndexByte(header, '/'); i >= 0 {
		probes = header[:i]
	}
	for _, p := range strings.Split(probes, ",") {
		p = strings.TrimSpace(p)
		if i := strings.LastIndexAny(p, "\n;}"); i >= 0 {
			p = strings.TrimSpace(p[i+1:])
		}
		kind, _, _ := strings.Cut(p, ":")
		switch kind {
		case "BEGIN", "END", "interval", "i", "profile", "p":
			return false
		}
	}
	return strings.TrimSpace(probes) != ""
}

// blankComments is s with its comments turned to spaces.
func blankComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			i = skipString(s, i)
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			stop := len(b)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			for ; i < stop; i++ {
				b[i] = ' '
			}
			i--
		}
	}
	return string(b)
}
