package matrix

import (
	"os"
	"strings"
	"testing"
)

const guestLog = "c\x1b[?7l noise from the firmware\r\n" +
	`IGREQ [{"gadget":"snapshot process","implemented":true,"ok":true,"variant":"iter/task","missing":[]},` +
	`{"gadget":"trace open","implemented":true,"ok":true,"variant":"tracepoint","missing":[]},` +
	`{"gadget":"trace fsslower","implemented":false,"ok":false,"variant":"kprobe","missing":["not implemented yet"]},` +
	`{"gadget":"trace tcpdrop","implemented":false,"ok":false,"missing":["not implemented yet","kernel 5.10 < 5.17"]}]` + "\r\n" +
	`IGRESULT {"gadget":"snapshot process","btf":"vmlinux","status":"ok","variant":"iter/task","detail":"x","seconds":1.2}` + "\r\n" +
	`IGRESULT {"gadget":"trace open","btf":"vmlinux","status":"ok","variant":"tracepoint","detail":"y","seconds":1}` + "\r\n" +
	`IGRESULT {"gadget":"trace open","btf":"embedded","status":"ok","variant":"tracepoint","detail":"y","seconds":1}` + "\r\n" +
	"IGDONE 3\r\n"

func parse(t *testing.T, s string) *Guest {
	t.Helper()
	g, err := ParseGuest(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var meta = Meta{Suite: "bookworm", Packages: []string{"linux-image-6.1.0-56-cloud-amd64"}, Release: "6.1.0-56-cloud-amd64", Version: "6.1.1-1", Embedded: true}

func TestBuildOK(t *testing.T) {
	g := parse(t, guestLog)
	if !g.Done || len(g.Requirements) != 4 || len(g.Results) != 3 {
		t.Fatalf("parsed %+v", g)
	}
	k, errs := Build(meta, g, []string{meta.Release})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Cell{
		{Gadget: "snapshot process", Implemented: true, Status: StatusRan, Variant: "iter/task", BTF: []string{"vmlinux"}},
		{Gadget: "trace open", Implemented: true, Status: StatusRan, Variant: "tracepoint", BTF: []string{"vmlinux", "embedded"}},
		{Gadget: "trace fsslower", Status: StatusWouldRun, Variant: "kprobe"},
		{Gadget: "trace tcpdrop", Status: StatusLacks, Reason: "kernel 5.10 < 5.17"},
	}
	for i, c := range k.Gadgets {
		if c.Gadget != want[i].Gadget || c.Status != want[i].Status || c.Variant != want[i].Variant || c.Reason != want[i].Reason || strings.Join(c.BTF, ",") != strings.Join(want[i].BTF, ",") {
			t.Errorf("cell %d: got %+v, want %+v", i, c, want[i])
		}
	}
	var m Matrix
	m.Add(k)
	md := m.Markdown()
	for _, s := range []string{"| `trace open` | ✔ tracepoint, embedded BTF too |", "| `trace tcpdrop` (planned) | _✘ kernel 5.10 &lt; 5.17_ |", "| gadget | 6.1.0-56-cloud<br>bookworm |"} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q:\n%s", s, md)
		}
	}
}

func TestBuildFailures(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		embedded  []string
		want      string
	}{
		{"not finished", strings.Replace(guestLog, "IGDONE 3", "", 1), []string{meta.Release}, "did not finish"},
		{"no requirements", "IGDONE 0\n", []string{meta.Release}, "no `ig requirements"},
		{"fail", strings.Replace(guestLog, `"btf":"vmlinux","status":"ok","variant":"tracepoint","detail":"y"`, `"btf":"vmlinux","status":"fail","variant":"tracepoint","detail":"no event"`, 1), []string{meta.Release}, "gadget trace open: FAIL with BTF vmlinux"},
		{"ok but refused", strings.Replace(guestLog, `"btf":"vmlinux","status":"ok","variant":"iter/task","detail":"x"`, `"btf":"vmlinux","status":"refused","variant":"","detail":"kernel lacks X"`, 1), []string{meta.Release}, "gadget snapshot process: ig requirements says it works here"},
		{"other variant", strings.Replace(guestLog, `"btf":"vmlinux","status":"ok","variant":"iter/task"`, `"btf":"vmlinux","status":"ok","variant":"proc"`, 1), []string{meta.Release}, "names variant iter/task"},
		{"wrong refusal", strings.Replace(strings.Replace(guestLog, `"ok":true,"variant":"iter/task","missing":[]`, `"ok":false,"missing":["kernel lacks A"]`, 1), `"btf":"vmlinux","status":"ok","variant":"iter/task","detail":"x"`, `"btf":"vmlinux","status":"refused","detail":"kernel lacks B"`, 1), []string{meta.Release}, "cannot run here (kernel lacks A)"},
		{"no embedded run", strings.Replace(guestLog, `"btf":"embedded"`, `"btf":"vmlinux"`, 1), []string{meta.Release}, "two results"},
		{"embedded mark", guestLog, nil, "btf/embedded/ has no BTF"},
		{"no workload", strings.Replace(guestLog, `"detail":"x"`, `"detail":"no guest workload"`, 1), []string{meta.Release}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Build(meta, parse(t, tc.log), tc.embedded)
			var all []string
			for _, err := range errs {
				all = append(all, err.Error())
			}
			got := strings.Join(all, "\n")
			if tc.want == "" {
				if got != "" {
					t.Errorf("unexpected errors: %s", got)
				}
				return
			}
			if !strings.Contains(got, tc.want) || !strings.Contains(got, "kernel "+meta.Release) {
				t.Errorf("errors %q lack %q", got, tc.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	entries, err := ParseList(strings.NewReader("# c\n\nbullseye a\ntrixie b,c embedded\n"))
	if err != nil || len(entries) != 2 || entries[1].Name() != "b" || len(entries[1].Packages) != 2 || !entries[1].Embedded || entries[0].Embedded {
		t.Fatalf("%+v %v", entries, err)
	}
	if _, err := ParseList(strings.NewReader("bullseye a other\n")); err == nil {
		t.Error("a bad third field was accepted")
	}
	f, err := os.Open("../kernels.list")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if entries, err := ParseList(f); err != nil || len(entries) < 5 {
		t.Errorf("kernels.list: %d entries, %v", len(entries), err)
	}
}

func TestVersionOrder(t *testing.T) {
	var m Matrix
	for _, r := range []string{"7.3.4+deb13-cloud-amd64", "6.12.117+deb12-cloud-amd64", "5.10.0-46-cloud-amd64", "6.1.0-56-cloud-amd64", "6.18.15+deb13-cloud-amd64"} {
		m.Add(Kernel{Release: r})
	}
	var got []string
	for _, k := range m.Kernels {
		got = append(got, strings.SplitN(k.Release, "-", 2)[0])
	}
	if strings.Join(got, " ") != "5.10.0 6.1.0 6.12.117+deb12 6.18.15+deb13 7.3.4+deb13" {
		t.Errorf("order: %v", got)
	}
}

func TestReadmeBlock(t *testing.T) {
	doc := "a\n" + ReadmeBegin + "old\n" + ReadmeEnd + "\nb\n"
	out, ok := ReplaceReadmeBlock(doc, "new\n")
	if !ok || out != "a\n"+ReadmeBegin+"new\n"+ReadmeEnd+"\nb\n" {
		t.Fatalf("%q", out)
	}
	if got, ok := ReadmeBlock(out); !ok || got != "new\n" {
		t.Errorf("%q", got)
	}
}

// The committed matrix parses, and every kernel has the same gadgets.
func TestCommittedMatrix(t *testing.T) {
	m, err := Load("../../../testdata/kernel-matrix.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Kernels) == 0 {
		t.Fatal("no kernels")
	}
	if err := m.Check(); err != nil {
		t.Error(err)
	}
	data, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile("../../../testdata/kernel-matrix.json"); string(raw) != string(data) {
		t.Error("testdata/kernel-matrix.json is not in the form the matrix tool writes; regenerate it with make kernels")
	}
}
