package btf

import (
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ig-tracer/ig/internal/integration"
)

// Each embedded file relocates every eBPF object of ig exactly as the full
// BTF of the kernel it was made from does. A stale file (an object changed
// without `make btfgen`) would drop the fields the new C reads, and
// bpf_core_field_exists would quietly say "absent": ig would still load,
// degraded, on that kernel. The full BTF comes from the kernel's own Debian
// package (scripts/kernel-btf.sh, cached with the packages `make kernels`
// boots), never from this host, whose kernel build is not in the set.
//
// Fetching packages needs root and Debian's archive, so this runs with the
// integration tests (IG_INTEGRATION, as `make test` and CI set it).
func TestEmbeddedBTFCurrent(t *testing.T) {
	integration.Require(t, "the embedded kernels' Debian packages")
	rels := EmbeddedReleases()
	if len(rels) == 0 {
		t.Fatal("no embedded BTF")
	}
	objs, err := filepath.Glob("../tracers/*/*/*_bpfel.o")
	if err != nil || len(objs) == 0 {
		t.Fatalf("no eBPF objects found (%v)", err)
	}
	for _, rel := range rels {
		t.Run(rel, func(t *testing.T) {
			out, err := exec.Command("../scripts/kernel-btf.sh", rel).Output()
			if err != nil {
				t.Fatalf("full BTF of %s: %v\n%s", rel, err, stderrOf(err))
			}
			full, err := btf.LoadSpec(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("full BTF of %s: %v", rel, err)
			}
			res, err := loadEmbedded(rel)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range objs {
				checkSameRelocations(t, obj, full, res.Spec)
			}
		})
	}
}

// checkSameRelocations fails when a CO-RE relocation of obj resolves
// differently against the minimized spec than against the full one.
func checkSameRelocations(t *testing.T, obj string, full, minimized *btf.Spec) {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for name, prog := range spec.Programs {
		var relos []*btf.CORERelocation
		for i := range prog.Instructions {
			if r := btf.CORERelocationMetadata(&prog.Instructions[i]); r != nil {
				relos = append(relos, r)
			}
		}
		if len(relos) == 0 {
			continue
		}
		localID := func(typ btf.Type) (btf.TypeID, error) { return spec.Types.TypeID(typ) }
		want, err := btf.CORERelocate(relos, []*btf.Spec{full}, binary.LittleEndian, localID)
		if err != nil {
			t.Fatalf("%s %s against the full BTF: %v", obj, name, err)
		}
		got, err := btf.CORERelocate(relos, []*btf.Spec{minimized}, binary.LittleEndian, localID)
		if err != nil {
			t.Fatalf("%s %s against the embedded BTF: %v", obj, name, err)
		}
		// A type id names a type of the BTF it comes from, and minimized
		// BTF numbers its types its own way: only whether the type is
		// there must agree. (The ids are for kfuncs such as
		// bpf_rdonly_cast, which need the kernel's own BTF anyway.)
		for i := range want {
			if i < len(got) && strings.Contains(relos[i].String(), "target_type_id") {
				if strings.Contains(fmt.Sprintf("%+v", got[i]), "poison:false") == strings.Contains(fmt.Sprintf("%+v", want[i]), "poison:false") {
					got[i] = want[i]
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			for i := range want {
				if i < len(got) && !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("%s %s: relocation %v: embedded BTF gives %+v, the kernel's %+v", obj, name, relos[i], got[i], want[i])
				}
			}
			t.Errorf("%s %s: the embedded BTF is stale: run make btfgen", obj, name)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
