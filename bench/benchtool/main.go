// Command benchtool holds the small helpers of bench/run.sh that are awkward
// or too slow in bash:
//
//	benchtool count -path P FILE
//	    Parse every line of ig's JSON output FILE and count the events whose
//	    "path" is exactly P. Prints "matched=N total=N bad=N" (bad: lines that
//	    are not a JSON object, e.g. a line cut short).
//
//	benchtool firstevent -out FILE -marker P -since T0 [-pid PID] [-timeout D]
//	    Open and close P every 10 ms until a line of FILE is an event whose
//	    "path" is P; FILE is re-read every millisecond. T0 is the moment ig was
//	    started, as bash's $EPOCHREALTIME. Prints "first_event_s=SECONDS", the
//	    time from T0 to the moment the marker line was seen in FILE. Fails if
//	    ig (PID) exits or nothing shows up within the timeout.
//
//	benchtool waitquiet -file FILE [-quiet D] [-max D]
//	    Return once FILE has not grown for D (default 300ms), or after max
//	    (default 5s). Prints "quiet=true|false waited_s=SECONDS".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchtool count|firstevent|waitquiet ...")
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "count":
		err = count(args)
	case "firstevent":
		err = firstEvent(args)
	case "waitquiet":
		err = waitQuiet(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchtool:", msg)
	os.Exit(1)
}

// pathOf decodes one output line; ok is false when it is not a JSON object.
// Only "path" is decoded: the other fields are skipped by the decoder.
func pathOf(line []byte) (path string, ok bool) {
	var ev struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return "", false
	}
	return ev.Path, true
}

func count(args []string) error {
	fs := flag.NewFlagSet("count", flag.ExitOnError)
	want := fs.String("path", "", "path to count")
	fs.Parse(args)
	if *want == "" || fs.NArg() != 1 {
		return errors.New("usage: benchtool count -path P FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	// The exact path as it appears JSON-encoded: lines without it cannot match
	// and are only checked for being well-formed JSON objects, cheaply.
	quoted, _ := json.Marshal(*want)
	var matched, total, bad int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		total++
		if !bytes.Contains(line, quoted) {
			if !json.Valid(line) || line[0] != '{' {
				bad++
			}
			continue
		}
		p, ok := pathOf(line)
		switch {
		case !ok:
			bad++
		case p == *want:
			matched++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Printf("matched=%d total=%d bad=%d\n", matched, total, bad)
	return nil
}

func firstEvent(args []string) error {
	fs := flag.NewFlagSet("firstevent", flag.ExitOnError)
	out := fs.String("out", "", "ig's output file")
	marker := fs.String("marker", "", "marker file to open (absolute path)")
	since := fs.String("since", "", "when ig was started, as $EPOCHREALTIME")
	pid := fs.Int("pid", 0, "ig's pid: fail if it exits")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	fs.Parse(args)
	if *out == "" || *marker == "" || *since == "" {
		return errors.New("usage: benchtool firstevent -out FILE -marker P -since T0")
	}
	t0, err := parseEpoch(*since)
	if err != nil {
		return err
	}
	// mknod, not open, so that only the probes below open the marker.
	if err := unix.Mknod(*marker, unix.S_IFREG|0o644, 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mknod %s: %w", *marker, err)
	}
	f, err := os.Open(*out)
	if err != nil {
		return err
	}
	defer f.Close()

	var (
		pending   []byte // read but not yet a complete line
		buf       = make([]byte, 1<<16)
		quoted, _ = json.Marshal(*marker)
		deadline  = time.Now().Add(*timeout)
		nextProbe time.Time
		probes    int
	)
	for {
		now := time.Now()
		if !now.Before(nextProbe) {
			fd, err := unix.Open(*marker, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open marker: %w", err)
			}
			unix.Close(fd)
			probes++
			nextProbe = now.Add(10 * time.Millisecond)
		}
		for {
			n, err := f.Read(buf)
			pending = append(pending, buf[:n]...)
			if err == io.EOF || n == 0 {
				break
			}
			if err != nil {
				return err
			}
		}
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			if bytes.Contains(line, quoted) {
				if p, ok := pathOf(line); ok && p == *marker {
					seen := time.Now()
					fmt.Printf("first_event_s=%.6f probes=%d\n", seen.Sub(t0).Seconds(), probes)
					return nil
				}
			}
			pending = pending[i+1:]
		}
		if *pid > 0 {
			if err := syscall.Kill(*pid, 0); err != nil {
				return fmt.Errorf("ig (pid %d) is gone before its first event", *pid)
			}
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid)); err == nil && zombie(st) {
				return fmt.Errorf("ig (pid %d) exited before its first event", *pid)
			}
		}
		if now.After(deadline) {
			return fmt.Errorf("no marker event from ig after %v (%d probes)", *timeout, probes)
		}
		time.Sleep(time.Millisecond)
	}
}

// zombie reports whether a /proc/PID/stat line is of an exited process.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// parseEpoch reads bash's $EPOCHREALTIME ("seconds.microseconds").
func parseEpoch(s string) (time.Time, error) {
	s = strings.Replace(s, ",", ".", 1) // some locales use a decimal comma
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("bad time %q", s)
		}
	}
	return time.Unix(secs, nsec), nil
}

func waitQuiet(args []string) error {
	fs := flag.NewFlagSet("waitquiet", flag.ExitOnError)
	file := fs.String("file", "", "file to watch")
	quiet := fs.Duration("quiet", 300*time.Millisecond, "how long the file must not grow")
	max := fs.Duration("max", 5*time.Second, "give up after this long")
	fs.Parse(args)
	if *file == "" {
		return errors.New("usage: benchtool waitquiet -file FILE")
	}
	start := time.Now()
	last, lastChange := int64(-1), start
	for {
		st, err := os.Stat(*file)
		if err != nil {
			return err
		}
		now := time.Now()
		if st.Size() != last {
			last, lastChange = st.Size(), now
		}
		if now.Sub(lastChange) >= *quiet {
			fmt.Printf("quiet=true waited_s=%.3f\n", now.Sub(start).Seconds())
			return nil
		}
		if now.Sub(start) >= *max {
			fmt.Printf("quiet=false waited_s=%.3f\n", now.Sub(start).Seconds())
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
