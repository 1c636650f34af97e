package tests

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	lostInAllRe = regexp.MustCompile(`(?m)^ig: lost (\d+) events in all \(ring buffer full\), (\d+) received$`)
	lostSoFarRe = regexp.MustCompile(`^ig: lost \d+ events \(ring buffer full\); \d+ lost so far$`)
	// IG's own line for lost events in its JSON stream.
	lostLineRe = regexp.MustCompile(`^\{"type":"warn","message":"lost (\d+) samples"\}\n$`)
)

// pipeCounter reads ig's -o json output from a pipe: until it has seen an
// open of marker, then it stops reading until resume is closed, then it reads
// to the end, counting the lines and the opens of path.
type pipeCounter struct {
	attached chan struct{} // closed once the marker line was read
	resume   chan struct{} // closed by the test to drain the pipe again
	done     chan struct{} // closed at EOF
	lines    int           // every event's line, JSON objects all
	ours     int           // opens of path
	warns    int           // lines {"type":"warn","message":"lost N samples"}
	warnLost uint64        // their Ns added up
	err      error
}

func countPipe(r io.Reader, marker, path string) *pipeCounter {
	c := &pipeCounter{attached: make(chan struct{}), resume: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		br := bufio.NewReaderSize(r, 1<<16)
		seen := false
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if line[len(line)-1] != '\n' {
					c.err = errors.New("output ends without a newline: " + string(line))
					return
				}
				if m := lostLineRe.FindSubmatch(line); m != nil {
					n, _ := strconv.ParseUint(string(m[1]), 10, 64)
					c.warns++
					c.warnLost += n
					continue
				}
				var ev openEvent
				err := json.Unmarshal(line, &ev)
				if err == nil && ev.Type != "normal" {
					err = errors.New(`its type is not "normal", nor is it IG's line for lost events`)
				}
				if err != nil {
					c.err = errors.New("line " + strconv.Itoa(c.lines+c.warns+1) + " is not an event: " + err.Error() + ": " + string(line))
					io.Copy(io.Discard, br) // keep ig from blocking
					return
				}
				c.lines++
				if ev.Path == path {
					c.ours++
				}
				if !seen && ev.Path == marker {
					seen = true
					close(c.attached)
					<-c.resume
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				c.err = err
				return
			}
		}
	}()
	return c
}

func TestLostEvents(t *testing.T) {
	const opens = 300000
	bin := igBinary(t)
	path := newMarkerFile(t) // the file opened in bulk
	marker := newMarkerFile(t)

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	// Only this process: the host's opens would be lost too and pad the count.
	ig := startCmdStdout(t, pw, bin, "trace", "open", "--pid", strconv.Itoa(os.Getpid()), "-o", "json")
	pw.Close() // ig holds the write end now: EOF comes when it exits
	c := countPipe(pr, marker, path)
	defer func() {
		select {
		case <-c.resume:
		default:
			close(c.resume)
		}
	}()

	// Attached: ig printed an open of marker. From here on the test does not
	// read, so ig blocks writing and its ring buffer fills.
	markerOpens := 0 // each may be printed or lost
	ig.waitUntil("an open of "+marker, func() { tryOpen(marker); markerOpens++ }, func([]byte) bool {
		select {
		case <-c.attached:
			return true
		default:
			return false
		}
	})

	for i := 0; i < opens; i++ {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open %d of %s: %v", i, path, err)
		}
		unix.Close(fd)
	}

	close(c.resume)
	r := ig.stop(sigINT)
	<-c.done
	if c.err != nil {
		t.Fatalf("ig's output: %v\n%s", c.err, r)
	}
	checkSuccess(t, r, lostInAllRe, lostSoFarRe) // the loss, as it happens and in all

	m := lostInAllRe.FindAllStringSubmatch(string(r.Stderr), -1)
	if len(m) != 1 {
		t.Fatalf("want one line `ig: lost N events in all (ring buffer full), M received` on stderr, got %d: %s", len(m), r)
	}
	lost, _ := strconv.ParseUint(m[0][1], 10, 64)
	received, _ := strconv.ParseUint(m[0][2], 10, 64)
	t.Logf("lost %d, received %d, lines %d, opens of ours printed %d of %d, lost lines %d", lost, received, c.lines, c.ours, opens, c.warns)
	if lost == 0 {
		t.Errorf("ig reports 0 lost events, though its output was blocked while %d opens happened: %s", opens, r)
	}
	if c.ours > opens {
		t.Errorf("%d opens of %s printed, but the test made only %d", c.ours, path, opens)
	}
	if lost+uint64(c.ours) < opens {
		t.Errorf("lost %d + printed %d opens of ours = %d < %d opens made: events vanished without being counted as lost",
			lost, c.ours, lost+uint64(c.ours), opens)
	}
	// Nothing is counted twice: every event ig printed or lost is an open of
	// this process, i.e. one of ours or of the marker. The slack is for opens
	// the Go runtime might make meanwhile (none seen so far).
	const slack = 16
	if made := uint64(opens + markerOpens); lost+received > made+slack {
		t.Errorf("lost %d + received %d = %d events, but this process made only %d opens (%d of %s, %d of the marker): lost events counted that never were",
			lost, received, lost+received, made, opens, path, markerOpens)
	}
	if received != uint64(c.lines) {
		t.Errorf("ig says it received %d events but printed %d lines", received, c.lines)
	}
	// The loss is in the JSON stream too, as IG writes it: lines
	// {"type":"warn","message":"lost N samples"}, whose Ns add up to it.
	if c.warns == 0 || c.warnLost != lost {
		t.Errorf(`stdout has %d lines {"type":"warn","message":"lost N samples"} adding up to %d; want at least one, adding up to the %d lost`,
			c.warns, c.warnLost, lost)
	}
}
