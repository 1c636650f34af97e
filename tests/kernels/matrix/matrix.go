// Package matrix turns what the guest program (tests/kernels/guest) saw inside each Debian
// kernel booted by tests/kernels/run.sh into the kernel × gadget matrix: it parses the guest's
// results, checks them against the guest's own `ig requirements` verdicts, and writes the
// matrix as JSON (testdata/kernel-matrix.json) and as the README's Markdown table.
package matrix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// EmbeddedGadgets run a second time with `--btf-sources embedded` in the guests of kernels
// ig embeds BTF for: the gadgets whose programs CO-RE relocate (snapshot process's task
// iterator needs the kernel's own BTF, whatever --btf-sources says).
var EmbeddedGadgets = []string{"trace open", "trace exec", "trace mount", "trace bind", "trace capabilities", "trace fsslower", "profile cpu"}

// Cell statuses. An implemented gadget ran (and caught its workload's events) or was refused;
// for a planned gadget, the matrix has the guest's requirements verdict.
const (
	StatusRan      = "ran"
	StatusRefused  = "refused"
	StatusWouldRun = "would run"
	StatusLacks    = "lacks"
	// StatusFail: the run disagrees with the guest's requirements verdict, or ig failed
	// (make kernels fails; the reason says why).
	StatusFail = "fail"
)

// notImplemented is the first reason `ig requirements` gives for a planned gadget.
const notImplemented = "not implemented yet"

// Matrix is testdata/kernel-matrix.json.
type Matrix struct {
	Kernels []Kernel `json:"kernels"`
}

// Kernel is one booted kernel and its gadgets, in the requirements table's order.
type Kernel struct {
	Release  string   `json:"release"`
	Suite    string   `json:"suite"`
	Packages []string `json:"packages"`
	Version  string   `json:"version"`
	// Failure: why the kernel has no gadgets (the guest printed nothing).
	Failure string `json:"failure,omitempty"`
	Gadgets []Cell `json:"gadgets"`
}

// Cell is one gadget in one kernel.
type Cell struct {
	Gadget      string `json:"gadget"`
	Implemented bool   `json:"implemented"`
	Status      string `json:"status"`
	Variant     string `json:"variant,omitempty"`
	// Reason: why ig refused (implemented), what the kernel lacks (planned).
	Reason string `json:"reason,omitempty"`
	// BTF: the kernel BTF sources the gadget ran with (vmlinux, embedded).
	BTF []string `json:"btf,omitempty"`
}

// Entry is one line of kernels.list: SUITE PKG[,PKG] [embedded].
type Entry struct {
	Suite    string
	Packages []string
	Embedded bool
}

// Name is the entry's first package, which names its log files.
func (e Entry) Name() string { return e.Packages[0] }

// ParseList reads kernels.list.
func ParseList(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "embedded") {
			return nil, fmt.Errorf("kernels.list line %d: want SUITE PKG[,PKG] [embedded], got %q", n, sc.Text())
		}
		out = append(out, Entry{Suite: f[0], Packages: strings.Split(f[1], ","), Embedded: len(f) == 3})
	}
	return out, sc.Err()
}

// Meta is what run.sh knows about one boot (NAME.meta, key=value lines).
type Meta struct {
	Suite    string
	Packages []string
	Release  string
	Version  string
	Embedded bool
	Attempts int
	Seconds  float64
}

// ParseMeta reads a NAME.meta file.
func ParseMeta(r io.Reader) (Meta, error) {
	var m Meta
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "suite":
			m.Suite = v
		case "packages":
			m.Packages = strings.Split(v, ",")
		case "release":
			m.Release = v
		case "version":
			m.Version = v
		case "embedded":
			m.Embedded = v == "1"
		case "attempts":
			m.Attempts, _ = strconv.Atoi(v)
		case "seconds":
			m.Seconds, _ = strconv.ParseFloat(v, 64)
		}
	}
	if m.Release == "" || len(m.Packages) == 0 {
		return m, fmt.Errorf("no release or packages")
	}
	return m, sc.Err()
}

// Requirement is one entry of `ig requirements -o json`, as the guest printed it.
type Requirement struct {
	Gadget      string   `json:"gadget"`
	Implemented bool     `json:"implemented"`
	OK          bool     `json:"ok"`
	Variant     string   `json:"variant"`
	Missing     []string `json:"missing"`
}

// Reason is the refusal ig gives for this verdict.
func (r Requirement) Reason() string { return strings.Join(r.Missing, "; ") }

// Result is one IGRESULT line of the guest.
type Result struct {
	Gadget  string  `json:"gadget"`
	BTF     string  `json:"btf"`
	Status  string  `json:"status"` // ok, refused, fail
	Variant string  `json:"variant"`
	Detail  string  `json:"detail"`
	Seconds float64 `json:"seconds"`
	Stderr  string  `json:"stderr"` // ig's stderr on one line, when fail
}

// Guest is everything a guest reported.
type Guest struct {
	Requirements []Requirement
	Results      []Result
	Done         bool // IGDONE seen: the guest finished
}

// ParseGuest reads the guest's result lines (IGREQ, IGRESULT, IGDONE; anything else is
// ignored, so a console log parses too).
func ParseGuest(r io.Reader) (*Guest, error) {
	g := &Guest{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "IGREQ "):
			if err := json.Unmarshal([]byte(line[len("IGREQ "):]), &g.Requirements); err != nil {
				return nil, fmt.Errorf("IGREQ: %v", err)
			}
		case strings.HasPrefix(line, "IGRESULT "):
			var res Result
			if err := json.Unmarshal([]byte(line[len("IGRESULT "):]), &res); err != nil {
				return nil, fmt.Errorf("IGRESULT: %v in %q", err, line)
			}
			g.Results = append(g.Results, res)
		case strings.HasPrefix(line, "IGDONE"):
			g.Done = true
		}
	}
	return g, sc.Err()
}

// Build checks one kernel's guest against its own requirements verdicts and returns the
// kernel's column. Each error names the kernel and the gadget:
//   - the guest did not finish, or printed no requirements;
//   - a result is fail, or a gadget has no result;
//   - a gadget the guest's `ig requirements` says works (implemented, ok) did not run and
//     catch its events, or ran another variant than the one it named;
//   - a gadget it says does not work was not refused with exactly the reason it gave;
//   - the embedded-BTF run is missing or failed on a kernel marked embedded.
//
// A gadget with an error gets status fail and the error as its reason, so the matrix shows
// what went wrong. embedded is the set of releases ig carries BTF for (btf.EmbeddedReleases).
func Build(meta Meta, g *Guest, embedded []string) (Kernel, []error) {
	k := Kernel{Release: meta.Release, Suite: meta.Suite, Packages: meta.Packages, Version: meta.Version}
	var errs []error
	fail := func(gadget, format string, args ...any) string {
		msg := fmt.Sprintf(format, args...)
		where := "kernel " + meta.Release
		if gadget != "" {
			where += ", gadget " + gadget
		}
		errs = append(errs, fmt.Errorf("%s: %s", where, msg))
		return msg
	}
	if has := slices.Contains(embedded, meta.Release); has != meta.Embedded {
		if has {
			fail("", "btf/embedded/ has BTF for this release: mark it `embedded` in kernels.list")
		} else {
			fail("", "marked `embedded` in kernels.list, but btf/embedded/ has no BTF for this release")
		}
	}
	if !g.Done {
		k.Failure = fail("", "the guest did not finish (no IGDONE): it crashed, hung or the kernel died")
	}
	if len(g.Requirements) == 0 {
		k.Failure = fail("", "the guest printed no `ig requirements -o json`")
		return k, errs
	}

	type key struct{ gadget, btf string }
	results := map[key]Result{}
	for _, r := range g.Results {
		kk := key{r.Gadget, r.BTF}
		if _, dup := results[kk]; dup {
			fail(r.Gadget, "two results with BTF %s", r.BTF)
		}
		results[kk] = r
	}
	// check compares a run with the verdict: "" when they agree, else the error.
	check := func(req Requirement, btf string) string {
		r, ok := results[key{req.Gadget, btf}]
		delete(results, key{req.Gadget, btf})
		switch {
		case !ok && !g.Done:
			return fail(req.Gadget, "not run with BTF %s: the guest did not finish", btf)
		case !ok:
			return fail(req.Gadget, "no result with BTF %s", btf)
		case r.Status == "fail":
			fail(req.Gadget, "FAIL with BTF %s (variant %q): %s", btf, r.Variant, r.Detail)
			if r.Stderr != "" {
				fail(req.Gadget, "ig's stderr: %s", r.Stderr)
			}
			if btf != "vmlinux" {
				return "with " + btf + " BTF: " + r.Detail
			}
			return r.Detail
		case req.OK && r.Status != "ok":
			return fail(req.Gadget, "ig requirements says it works here (variant %s), but with BTF %s it was %s: %s", req.Variant, btf, r.Status, r.Detail)
		case req.OK && r.Variant != req.Variant:
			return fail(req.Gadget, "ig requirements names variant %s, but with BTF %s ig ran variant %q", req.Variant, btf, r.Variant)
		case !req.OK && (r.Status != "refused" || r.Detail != req.Reason()):
			return fail(req.Gadget, "ig requirements says it cannot run here (%s), but with BTF %s it was %s: %s", req.Reason(), btf, r.Status, r.Detail)
		}
		return ""
	}
	for _, req := range g.Requirements {
		c := Cell{Gadget: req.Gadget, Implemented: req.Implemented}
		switch {
		case req.Implemented:
			if req.OK {
				c.Status, c.Variant, c.BTF = StatusRan, req.Variant, []string{"vmlinux"}
			} else {
				c.Status, c.Reason = StatusRefused, req.Reason()
			}
			var failed []string
			if msg := check(req, "vmlinux"); msg != "" {
				failed = append(failed, msg)
			}
			if meta.Embedded && slices.Contains(EmbeddedGadgets, req.Gadget) {
				if msg := check(req, "embedded"); msg != "" {
					failed = append(failed, msg)
				} else if req.OK {
					c.BTF = append(c.BTF, "embedded")
				}
			}
			if len(failed) > 0 {
				c.Status, c.Reason, c.BTF = StatusFail, strings.Join(failed, "; "), nil
			}
		default:
			missing := slices.DeleteFunc(slices.Clone(req.Missing), func(s string) bool { return s == notImplemented })
			if len(missing) == 0 {
				c.Status, c.Variant = StatusWouldRun, req.Variant
			} else {
				c.Status, c.Reason = StatusLacks, strings.Join(missing, "; ")
			}
		}
		k.Gadgets = append(k.Gadgets, c)
	}
	var extra []string
	for kk := range results {
		extra = append(extra, kk.gadget+" (BTF "+kk.btf+")")
	}
	sort.Strings(extra)
	for _, e := range extra {
		fail("", "a result for %s, which ig requirements does not list as implemented", e)
	}
	return k, errs
}

// Add puts a kernel in the matrix, kept in kernel version order.
func (m *Matrix) Add(k Kernel) {
	m.Kernels = append(m.Kernels, k)
	sort.SliceStable(m.Kernels, func(i, j int) bool { return versionLess(m.Kernels[i].Release, m.Kernels[j].Release) })
}

// Check reports kernels whose gadget lists differ (they all ran the same ig).
func (m *Matrix) Check() error {
	var first *Kernel
	for i, k := range m.Kernels {
		if k.Failure != "" {
			continue
		}
		if first == nil {
			first = &m.Kernels[i]
		} else if a, b := gadgetNames(*first), gadgetNames(k); !slices.Equal(a, b) {
			return fmt.Errorf("kernels %s and %s list different gadgets: %q vs %q", first.Release, k.Release, a, b)
		}
	}
	return nil
}

func gadgetNames(k Kernel) []string {
	var out []string
	for _, c := range k.Gadgets {
		out = append(out, c.Gadget)
	}
	return out
}

// JSON is the matrix file's content: indented, newline-terminated, no timestamps.
func (m *Matrix) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Load reads a matrix file.
func Load(path string) (*Matrix, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Matrix
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &m, nil
}

// Markdown renders the matrix as a table: a row per gadget (in the requirements table's
// order), a column per kernel. Implemented gadgets: ✔ variant (ran and caught its events) or
// ✘ reason (refused). Planned gadgets, in italics: the guest's requirements verdict.
func (m *Matrix) Markdown() string {
	var b strings.Builder
	b.WriteString("| gadget |")
	for _, k := range m.Kernels {
		fmt.Fprintf(&b, " %s<br>%s |", strings.TrimSuffix(k.Release, "-amd64"), k.Suite)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(m.Kernels)))
	b.WriteString("\n")
	var rows []Cell
	for _, k := range m.Kernels {
		if len(k.Gadgets) > 0 {
			rows = k.Gadgets
			break
		}
	}
	for i, c := range rows {
		name := "`" + c.Gadget + "`"
		if !c.Implemented {
			name += " (planned)"
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, k := range m.Kernels {
			cell := "?"
			if i < len(k.Gadgets) && k.Gadgets[i].Gadget == c.Gadget {
				cell = k.Gadgets[i].markdown()
			} else if k.Failure != "" {
				cell = "✘ FAIL: " + escape(k.Failure)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var escape = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ").Replace

func (c Cell) markdown() string {
	esc := escape
	switch c.Status {
	case StatusRan:
		s := "✔ " + esc(c.Variant)
		if slices.Contains(c.BTF, "embedded") {
			s += ", embedded BTF too"
		}
		return s
	case StatusRefused:
		return "✘ " + esc(c.Reason)
	case StatusWouldRun:
		return "_" + esc(c.Variant) + "_"
	case StatusLacks:
		return "_✘ " + esc(c.Reason) + "_"
	case StatusFail:
		return "✘ FAIL: " + esc(c.Reason)
	}
	return "?"
}

// The README's kernel matrix block is Markdown() between these lines.
const (
	ReadmeBegin = "<!-- kernel-matrix:begin -->\n"
	ReadmeEnd   = "<!-- kernel-matrix:end -->"
)

// ReadmeBlock returns the text between ReadmeBegin and ReadmeEnd in doc.
func ReadmeBlock(doc string) (string, bool) {
	i, j := strings.Index(doc, ReadmeBegin), strings.Index(doc, ReadmeEnd)
	if i < 0 || j < i+len(ReadmeBegin) {
		return "", false
	}
	return doc[i+len(ReadmeBegin) : j], true
}

// ReplaceReadmeBlock puts table between ReadmeBegin and ReadmeEnd in doc.
func ReplaceReadmeBlock(doc, table string) (string, bool) {
	i, j := strings.Index(doc, ReadmeBegin), strings.Index(doc, ReadmeEnd)
	if i < 0 || j < i+len(ReadmeBegin) {
		return doc, false
	}
	return doc[:i+len(ReadmeBegin)] + table + doc[j:], true
}

// versionLess orders kernel releases naturally: digit runs compare as numbers.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		ca, ra := chunk(a)
		cb, rb := chunk(b)
		if ca != cb {
			na, ea := strconv.Atoi(ca)
			nb, eb := strconv.Atoi(cb)
			if ea == nil && eb == nil {
				return na < nb
			}
			return ca < cb
		}
		a, b = ra, rb
	}
	return len(a) < len(b)
}

// chunk splits off a leading run of digits or of non-digits.
func chunk(s string) (string, string) {
	digit := unicode.IsDigit(rune(s[0]))
	i := 1
	for i < len(s) && unicode.IsDigit(rune(s[i])) == digit {
		i++
	}
	return s[:i], s[i:]
}
