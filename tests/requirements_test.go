package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// requirement is one entry of `ig requirements -o json`.
type requirement struct {
	Gadget      string `json:"gadget"`
	Implemented bool   `json:"implemented"`
	Variants    []struct {
		Name         string   `json:"name"`
		MinKernel    string   `json:"minKernel"`
		ProgramTypes []string `json:"programTypes"`
	} `json:"variants"`
	MinKernel string   `json:"minKernel"`
	OK        bool     `json:"ok"`
	Variant   string   `json:"variant"`
	Missing   []string `json:"missing"`
	BTF       *struct {
		Source   string `json:"source"`
		Path     string `json:"path"`
		Download bool   `json:"download"`
	} `json:"btf"`
}

func (r requirement) reason() string { return strings.Join(r.Missing, "; ") }

// requirementsJSON runs `ig <global...> requirements -o json` and returns its entries by gadget.
func requirementsJSON(t *testing.T, global ...string) map[string]requirement {
	t.Helper()
	r := runIG(t, append(global, "requirements", "-o", "json")...)
	checkSuccess(t, r)
	var all []requirement
	if err := json.Unmarshal(r.Stdout, &all); err != nil {
		t.Fatalf("not a JSON array: %v: %s", err, r)
	}
	byName := map[string]requirement{}
	for _, e := range all {
		byName[e.Gadget] = e
	}
	for _, g := range []string{"trace open", "trace exec", "snapshot process"} {
		if _, ok := byName[g]; !ok {
			t.Fatalf("no entry for %s: %s", g, r)
		}
	}
	return byName
}

// TestRequirements: `ig requirements` judges kernel BTF from the sources it is given, as the
// gadgets do, and shows a minimum kernel and program types for every variant.
func TestRequirements(t *testing.T) {
	igBinary(t)

	t.Run("this host", func(t *testing.T) {
		all := requirementsJSON(t)
		for _, e := range all {
			if e.MinKernel == "" {
				t.Errorf("%s: empty minKernel", e.Gadget)
			}
			for _, v := range e.Variants {
				if v.MinKernel == "" || v.ProgramTypes == nil {
					t.Errorf("%s/%s: minKernel %q, programTypes %v", e.Gadget, v.Name, v.MinKernel, v.ProgramTypes)
				}
			}
		}
		if _, err := os.Stat(vmlinuxBTF); err != nil {
			t.Skipf("no %s here: %v", vmlinuxBTF, err)
		}
		for _, g := range []string{"trace open", "trace exec", "snapshot process"} {
			e := all[g]
			if !e.OK || e.BTF == nil || e.BTF.Source != "vmlinux" || e.BTF.Path != vmlinuxBTF || e.BTF.Download {
				t.Errorf("%s: ok %v (%s), btf %+v; want ok with BTF from %s", g, e.OK, e.reason(), e.BTF, vmlinuxBTF)
			}
		}
	})

	t.Run("--btf not BTF", func(t *testing.T) {
		all := requirementsJSON(t, "--btf", "/etc/passwd")
		for _, g := range []string{"trace open", "trace exec"} {
			e := all[g]
			if e.OK || !strings.Contains(e.reason(), "no kernel BTF") || !strings.Contains(e.reason(), "/etc/passwd") {
				t.Errorf("%s: ok %v, reason %q; want a refusal naming kernel BTF and /etc/passwd", g, e.OK, e.reason())
			}
			// The gadget refuses with the very reason ig requirements gives.
			args := append(append([]string{"--btf", "/etc/passwd"}, strings.Fields(g)...), "-t", "1")
			msg := checkFailure(t, runIG(t, args...))
			if want := "ig: " + g + ": " + e.reason(); msg != want {
				t.Errorf("ig --btf /etc/passwd %s says\n%q\nig requirements says\n%q", g, msg, want)
			}
		}
		// snapshot process falls back to /proc, which needs no BTF, and runs so.
		e := all["snapshot process"]
		if !e.OK || e.Variant != "/proc" || e.BTF != nil {
			t.Errorf("snapshot process: ok %v, variant %q, btf %+v; want ok with /proc", e.OK, e.Variant, e.BTF)
		}
		r := runIG(t, "--btf", "/etc/passwd", "snapshot", "process", "-o", "json", "-v")
		checkSuccess(t, r)
		checkLogLine(t, r, "ig: snapshot process: using the /proc variant")
	})

	t.Run("btfhub download", func(t *testing.T) {
		cache := t.TempDir()
		all := requirementsJSON(t, "--btf-sources", "btfhub", "--btfhub-url", "http://127.0.0.1:1", "--btf-cache-dir", cache)
		e := all["trace open"]
		if !e.OK || e.BTF == nil || e.BTF.Source != "btfhub" || !e.BTF.Download ||
			!strings.HasPrefix(e.BTF.Path, "http://127.0.0.1:1/") || !strings.HasSuffix(e.BTF.Path, "/"+kernelRelease(t)+".btf.tar.xz") {
			t.Errorf("trace open: ok %v (%s), btf %+v; want ok, to be downloaded from http://127.0.0.1:1/...", e.OK, e.reason(), e.BTF)
		}
		r := runIG(t, "--btf-sources", "btfhub", "--btfhub-url", "http://127.0.0.1:1", "--btf-cache-dir", cache, "requirements")
		checkSuccess(t, r)
		if !strings.Contains(string(r.Stdout), "✔ tracepoint (kernel BTF to be downloaded from BTFHub)") {
			t.Errorf("the table does not say BTF is to be downloaded: %s", r)
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("ig requirements wrote to the BTF cache: %v", ents)
		}

		// Cached: no download needed.
		data, err := os.ReadFile(vmlinuxBTF)
		if err != nil {
			t.Skipf("no %s to cache: %v", vmlinuxBTF, err)
		}
		cached := filepath.Join(cache, kernelRelease(t)+".btf")
		if err := os.WriteFile(cached, data, 0o644); err != nil {
			t.Fatal(err)
		}
		all = requirementsJSON(t, "--btf-sources", "btfhub", "--btfhub-url", "http://127.0.0.1:1", "--btf-cache-dir", cache)
		if e := all["trace open"]; !e.OK || e.BTF == nil || e.BTF.Download || e.BTF.Path != cached {
			t.Errorf("trace open, BTF cached: ok %v, btf %+v; want ok from %s", e.OK, e.BTF, cached)
		}
	})

	t.Run("bad --btf-sources", func(t *testing.T) {
		msg := checkFailure(t, runIG(t, "--btf-sources", "vmlinux,nope", "requirements"))
		if !strings.Contains(msg, "nope") {
			t.Errorf("message %q does not name the bad source", msg)
		}
	})
}
