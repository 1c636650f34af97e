package workloads

import (
	"fmt"
	"strings"
	"time"
)

func init() { Table["advise seccomp-profile"] = adviseSeccompProfile }

// advise seccomp-profile writes profiles for containers, and a guest has
// none: the run proves its program loads, attaches and is read on this
// kernel (the host's processes are recorded and left out), and that it
// says so.
func adviseSeccompProfile(r *Run, h Host) (string, error) {
	if err := r.Start(false, "--timeout", "1"); err != nil {
		return "", err
	}
	if err := r.WaitEnd(r.AttachTimeout + 5*time.Second); err != nil {
		return "", err
	}
	if out := strings.TrimSpace(r.stdout.String()); out != "" {
		return "", fmt.Errorf("a profile without a container: %s", out)
	}
	return "recorded for 1 s, ended cleanly: no container, no profile", nil
}
