package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain removes what an earlier run killed mid-test left on the host
// before any test runs. A test that go test's -timeout (or a kill) stops never
// runs its cleanup: an nftables table of nftRule's left behind goes on
// dropping a port that the kernel later hands out to another test's listener,
// whose connect then times out after two minutes (CI failed so once).
func TestMain(m *testing.M) {
	if os.Getenv("IG_INTEGRATION") != "" && os.Geteuid() == 0 {
		sweepTestTables()
	}
	os.Exit(m.Run())
}

// testTablePrefix names every nftables table the tests add (nftRule).
const testTablePrefix = "igtest_"

// sweepTestTables deletes the host network namespace's leftover test
// tables, and says so: a leftover means a run was killed.
func sweepTestTables() {
	nft, err := exec.LookPath("nft")
	if err != nil {
		return // the tests that need nft fail on their own
	}
	out, err := exec.Command(nft, "list", "tables").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: nft list tables: %v\n", err)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line) // "table inet igtest_0123abcd"
		if len(f) != 3 || f[0] != "table" || !strings.HasPrefix(f[2], testTablePrefix) {
			continue
		}
		if out, err := exec.Command(nft, "delete", "table", f[1], f[2]).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "tests: deleting the leftover nftables table %s %s: %v: %s\n", f[1], f[2], err, out)
			continue
		}
		fmt.Fprintf(os.Stderr, "tests: deleted the nftables table %s %s that a killed run left behind\n", f[1], f[2])
	}
}
