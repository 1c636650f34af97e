package tracers

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// When the chosen variant does not attach, the next one the host offers
// runs, with its own programs' row; other errors end the run.
func TestRunVariantsFallsBack(t *testing.T) {
	r := &Requirements{Gadget: "trace fake", Variants: []Variant{
		{Name: "tp_btf", Tracepoints: []string{"sched/sched_switch"}},
		{Name: "kprobe", KernelFuncs: []string{"finish_task_switch"}},
		{Name: "/proc", NoBPF: true},
	}}
	verdict := Verdict{OK: true, Variant: "tp_btf", Fallbacks: []Verdict{{OK: true, Variant: "kprobe"}, {OK: true, Variant: "/proc"}}}
	for _, tc := range []struct {
		name  string
		fail  map[string]error // what Run returns, by variant
		ran   string           // the variants run, in order
		err   string
		notes []string
	}{
		{"first attaches", nil, "tp_btf", "", nil},
		{"falls back", map[string]error{"tp_btf": &AttachError{errors.New("attach tp_btf/sched_switch: permission denied")}},
			"tp_btf kprobe", "", []string{"ig: trace fake: the tp_btf variant did not attach (attach tp_btf/sched_switch: permission denied); trying the kprobe variant", "ig: trace fake: using the kprobe variant"}},
		{"to the last", map[string]error{"tp_btf": &AttachError{errors.New("a")}, "kprobe": &AttachError{errors.New("b")}},
			"tp_btf kprobe /proc", "", nil},
		{"all fail", map[string]error{"tp_btf": &AttachError{errors.New("a")}, "kprobe": &AttachError{errors.New("b")}, "/proc": &AttachError{errors.New("c")}},
			"tp_btf kprobe /proc", "c", nil},
		{"not an attach error", map[string]error{"tp_btf": errors.New("output: broken pipe")}, "tp_btf", "output: broken pipe", nil},
	} {
		var ran []string
		var stderr bytes.Buffer
		g := &Gadget{Category: "trace", Name: "fake", Run: func(_ context.Context, env *Env) error {
			ran = append(ran, env.Variant)
			want := ""
			if v := env.VariantReq; v != nil {
				want = v.Name
			}
			if env.Variant != "/proc" && want != env.Variant {
				t.Errorf("%s: variant %s ran with the row of %q", tc.name, env.Variant, want)
			}
			return tc.fail[env.Variant]
		}}
		err := RunVariants(context.Background(), g, &Env{Stderr: &stderr, Verbose: true}, r, verdict)
		if got := strings.Join(ran, " "); got != tc.ran {
			t.Errorf("%s: ran %q, want %q", tc.name, got, tc.ran)
		}
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
		for _, n := range tc.notes {
			if !strings.Contains(stderr.String(), n+"\n") {
				t.Errorf("%s: -v lacks %q:\n%s", tc.name, n, stderr.String())
			}
		}
	}
	// ig stopping: no fallback.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	g := &Gadget{Category: "trace", Name: "fake", Run: func(context.Context, *Env) error { n++; return &AttachError{errors.New("a")} }}
	if err := RunVariants(ctx, g, &Env{Stderr: &bytes.Buffer{}}, r, verdict); err == nil || n != 1 {
		t.Errorf("stopping: %d runs, %v; want 1 and its error", n, err)
	}
}

// Check lists the later variants the host offers as fallbacks.
func TestCheckFallbacks(t *testing.T) {
	implemented(t, "snapshot process")
	r, _ := RequirementsOf("snapshot process")
	h := &Host{Release: "6.18.44", Version: "6.18.44", KernelBTF: true, BTF: &BTFSource{Source: "vmlinux"}, Probes: allProbes{}}
	v := h.Check(r)
	if !v.OK || v.Variant != "iter/task" || len(v.Fallbacks) != 1 || v.Fallbacks[0].Variant != "/proc" {
		t.Errorf("snapshot process: %+v, want iter/task then /proc", v)
	}
}

// fakeArgs answers Bool from a set of flags.
type fakeArgs map[string]bool

func (a fakeArgs) Bool(name string) bool     { return a[name] }
func (fakeArgs) String(string) string        { return "" }
func (fakeArgs) Int(string) int              { return 0 }
func (fakeArgs) StringSlice(string) []string { return nil }

// A variant the run's flags rule out (Gadget.Unfit) is passed over like one
// the host lacks: the next fit one runs, -v says why, and when none is left
// the refusal names why not each, the host's reasons included.
func TestVerdictForArgs(t *testing.T) {
	g := &Gadget{Unfit: func(a Args, variant string) string {
		if variant == "tracepoint" && a.Bool("audit-only") {
			return "--audit-only needs the options"
		}
		return ""
	}}
	both := Verdict{OK: true, Variant: "tracepoint", Fallbacks: []Verdict{{OK: true, Variant: "kprobe"}}}
	if v := both.ForArgs(g, fakeArgs{}); v.Variant != "tracepoint" || len(v.Fallbacks) != 1 {
		t.Errorf("no flag: %+v, want the tracepoint, the kprobe as fallback", v)
	}
	v := both.ForArgs(g, fakeArgs{"audit-only": true})
	if !v.OK || v.Variant != "kprobe" || len(v.Fallbacks) != 0 || !slices.Equal(v.PassedOver, []string{"tracepoint: --audit-only needs the options"}) {
		t.Errorf("--audit-only with kprobes: %+v, want the kprobe variant, the tracepoint passed over", v)
	}
	alone := Verdict{OK: true, Variant: "tracepoint", LaterMissing: []string{"kprobe: kprobes unavailable"}}
	v = alone.ForArgs(g, fakeArgs{"audit-only": true})
	if v.OK || v.Reason() != "tracepoint: --audit-only needs the options; kprobe: kprobes unavailable" {
		t.Errorf("--audit-only without kprobes: %+v, want a refusal saying why not each", v)
	}
}
