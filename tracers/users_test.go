package tracers

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadIDNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	text := "root:x:0:0:root:/root:/bin/bash\n# a comment\nbad line\nnobody:x:65534:65534::/:/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nnoid:x:abc:1::/:\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{0: "root", 65534: "nobody"} // the first name of an id wins
	if got := readIDNames(path); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := readIDNames(filepath.Join(t.TempDir(), "none")); len(got) != 0 {
		t.Errorf("a missing file named %v", got)
	}
}

// An event with no process (a socket's, seen in softirq) has uid 0 but no
// user: it is no one's.
func TestFillNames(t *testing.T) {
	ev := Event{Pid: 1, Comm: "init"}
	fillNames(&ev)
	if ev.User != "root" || ev.Group != "root" {
		t.Errorf("uid 0 gid 0: user %q group %q, want root root", ev.User, ev.Group)
	}
	ev = Event{User: "stale", Group: "stale"}
	fillNames(&ev)
	if ev.User != "" || ev.Group != "" {
		t.Errorf("no process: user %q group %q, want none", ev.User, ev.Group)
	}
}
