package cli

import (
	"runtime/debug"
	"testing"
)

func TestBuildCommit(t *testing.T) {
	settings := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	const rev = "c3f6b45e0f1d2c3b4a5968778695a4b3c2d1e0f1"
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false"), "c3f6b45e0f1d"},
		{settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "true"), "c3f6b45e0f1d-dirty"},
		{settings("vcs.revision", "abc"), "abc"},
		{settings("-buildmode", "exe", "CGO_ENABLED", "0"), ""}, // built without VCS information
		{settings(), ""},
	} {
		if got := buildCommit(tc.bi); got != tc.want {
			t.Errorf("buildCommit(%v) = %q, want %q", tc.bi.Settings, got, tc.want)
		}
	}
}
