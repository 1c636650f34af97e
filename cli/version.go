package cli

import "runtime/debug"

// Without the Makefile's -ldflags (a plain `go build`), the commit is the one
// Go records in the binary when it builds in a git checkout.
func init() {
	if commit != "unknown" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if c := buildCommit(bi); c != "" {
			commit = c
		}
	}
}

// buildCommit is the commit of the build information (vcs.revision), cut to
// 12 hex digits, with "-dirty" when the checkout had changes (vcs.modified);
// "" when Go recorded none (no git, -buildvcs=false, go run, go test).
func buildCommit(bi *debug.BuildInfo) string {
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
