package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// titleRe is the title of a top gadget's table on a terminal.
var titleRe = regexp.MustCompile(`^(\d\d:\d\d:\d\d)  (\d+) of (\d+) rows$`)

// TestTopRedrawsInPlace runs top file in a real terminal (tmux, 100x20)
// while the test writes 40 files, and reads the screen as a person sees
// it: one table, its title on the first line, cut to what fits, replaced
// in place each interval (the title's time changes, nothing scrolls).
func TestTopRedrawsInPlace(t *testing.T) {
	ig := igBinary(t)
	tmux := requireTool(t, "tmux")
	dir := topFileDir(t)
	session := unique("igtop")
	socket := filepath.Join(t.TempDir(), "tmux.sock")
	run := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // 40 files, each written every 50 ms
		defer close(done)
		for {
			for i := 0; i < 40; i++ {
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), []byte("x"), 0o600)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()

	cmd := fmt.Sprintf("%s top file --interval 1 --pid %d; sleep 30", ig, os.Getpid())
	run("new-session", "-d", "-s", session, "-x", "100", "-y", "20", cmd)
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", socket, "kill-server").Run() })

	screen := func() []string {
		return strings.Split(strings.TrimRight(run("capture-pane", "-p", "-t", session), "\n"), "\n")
	}
	var first, last []string
	deadline := time.Now().Add(attachTimeout)
	for time.Now().Before(deadline) {
		s := screen()
		if m := titleRe.FindStringSubmatch(s[0]); m != nil {
			if first == nil {
				first = s
			} else if titleRe.FindStringSubmatch(first[0])[1] != m[1] {
				last = s
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if first == nil || last == nil {
		t.Fatalf("no two tables, one after the other, at the top of the screen; the screen:\n%s", strings.Join(screen(), "\n"))
	}
	for _, s := range [][]string{first, last} {
		text := strings.Join(s, "\n")
		if n := len(regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  \d+ of \d+ rows$`).FindAllString(text, -1)); n != 1 {
			t.Errorf("%d titles on the screen, want 1 (a table that scrolls instead of being redrawn):\n%s", n, text)
		}
		if len(s) > 20 {
			t.Errorf("%d lines on a 20-line screen:\n%s", len(s), text)
		}
		m := titleRe.FindStringSubmatch(s[0])
		shown, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		// The title, the header and the rows fit, with a spare line.
		if shown != 17 || total < 40 {
			t.Errorf("title %q: want 17 rows shown (what fits in 20 lines) of at least 40:\n%s", s[0], text)
		}
		if !strings.HasPrefix(s[1], "CONTAINER") || !strings.Contains(s[1], "FILE") {
			t.Errorf("second line %q is not the header:\n%s", s[1], text)
		}
		rows := 0
		for _, line := range s[2:] {
			if strings.Contains(line, dir+"/f") {
				rows++
			}
		}
		if rows != shown {
			t.Errorf("%d rows of the test's files on the screen, the title says %d:\n%s", rows, shown, text)
		}
	}
}
