package tests

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// profileRow is a profile cpu report row, as JSON.
type profileRow struct {
	Runtime struct {
		RuntimeName   string `json:"runtimeName"`
		ContainerName string `json:"containerName"`
	} `json:"runtime"`
	K8s         struct{} `json:"k8s"`
	MountNsID   uint64   `json:"mountnsid"`
	Pid         int64    `json:"pid"`
	Comm        string   `json:"comm"`
	UserStack   []string `json:"userStack"`
	KernelStack []string `json:"kernelStack"`
	Count       int64    `json:"count"`
}

const spinFunc = "main.igSpinHotLoop"

// spinSource is a program that spends its time in spinFunc for argv[1]
// seconds, then exits.
const spinSource = `package main

import (
	"os"
	"strconv"
	"time"
)

//go:noinline
func igSpinHotLoop(until time.Time) uint64 {
	var x uint64
	for time.Now().Before(until) {
		for i := 0; i < 1<<16; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func main() {
	secs, _ := strconv.Atoi(os.Args[1])
	if igSpinHotLoop(time.Now().Add(time.Duration(secs)*time.Second)) == 42 {
		os.Exit(3)
	}
}
`

// How buildSpinner builds.
const (
	spinStatic   = iota
	spinStripped // -s -w: only Go's pclntab names its functions
	spinPIE      // loaded at a random address: frames need the load bias undone
)

// buildSpinner builds spinSource, without cgo, as a binary called name (its
// comm).
func buildSpinner(t *testing.T, name string, how int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(spinSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module spin\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "-o", name}
	switch how {
	case spinStripped:
		args = append(args, "-ldflags=-s -w")
	case spinPIE:
		args = append(args, "-buildmode=pie")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the spinner: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, name)
	out, _ := exec.Command("file", bin).Output()
	if how == spinStripped && (!bytes.Contains(out, []byte("stripped")) || bytes.Contains(out, []byte("not stripped"))) {
		t.Fatalf("the spinner is not stripped: %s", out)
	}
	if how == spinPIE && !bytes.Contains(out, []byte("pie executable")) {
		t.Fatalf("the spinner is not a PIE: %s", out)
	}
	return bin
}

// startSpinner runs bin for secs seconds.
func startSpinner(t *testing.T, bin string, secs int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, strconv.Itoa(secs))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// waitVerboseAttached waits until ig -v says it is attached.
func (p *proc) waitVerboseAttached() {
	p.t.Helper()
	deadline := time.Now().Add(attachTimeout)
	for !strings.Contains(p.stderr.String(), "ig: attached after") {
		if p.exited() || time.Now().After(deadline) {
			p.t.Fatalf("`%s` did not attach: %s", strings.Join(p.argv, " "), p.wait())
		}
		time.Sleep(pollEvery)
	}
}

// waitZombie waits until pid has exited, not reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i:], []byte(") Z")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not exit: %s", pid, stat)
		}
	}
}

// hottest is the row with the most samples.
func hottest(t *testing.T, rows []profileRow) profileRow {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	return slices.MaxFunc(rows, func(a, b profileRow) int { return int(a.Count - b.Count) })
}

// TestProfileCPU runs two spinners on the host, one stripped, the other a
// PIE, for 3 seconds, with profile cpu in its five outputs watching them;
// the spinners exit before ig is stopped (the PIE stays a zombie until
// after the reports: its maps file is empty then), so their frames are
// resolved from what ig noted while they ran. spinFunc must be the
// hottest user frame in each output.
func TestProfileCPU(t *testing.T) {
	igBinary(t)
	sfx := strconv.Itoa(os.Getpid() % 100000)
	plainName, stripName := "spinp"+sfx, "spins"+sfx
	plain, stripped := buildSpinner(t, plainName, spinPIE), buildSpinner(t, stripName, spinStripped)
	dir := t.TempDir()
	pprofFile, svgFile := filepath.Join(dir, "cpu.pb.gz"), filepath.Join(dir, "cpu.svg")

	text := startIG(t, "profile", "cpu", "-v", "--comm", stripName, "-m", "3")
	jsonIG := startIG(t, "profile", "cpu", "-v", "--comm", stripName, "-o", "json")
	folded := startIG(t, "profile", "cpu", "-v", "--comm", plainName, "-o", "folded")
	pprofIG := startIG(t, "profile", "cpu", "-v", "--comm", plainName, "-o", "pprof="+pprofFile)
	svg := startIG(t, "profile", "cpu", "-v", "--comm", plainName, "-o", "svg="+svgFile, "--frequency", "99")
	igs := []*proc{text, jsonIG, folded, pprofIG, svg}
	for _, p := range igs {
		p.waitVerboseAttached()
	}
	sp, ss := startSpinner(t, plain, 3), startSpinner(t, stripped, 3)
	plainPid, stripPid := sp.Process.Pid, ss.Process.Pid
	if err := ss.Wait(); err != nil {
		t.Fatalf("spinner: %v", err)
	}
	waitZombie(t, plainPid)
	var res []result
	for _, p := range igs {
		r := p.stop(os.Interrupt)
		checkSuccess(t, r)
		res = append(res, r)
	}
	if err := sp.Wait(); err != nil {
		t.Fatalf("spinner: %v", err)
	}

	t.Run("text", func(t *testing.T) {
		first, frame := firstTextStack(res[0].Stdout)
		if want := fmt.Sprintf("%s [%d]: ", stripName, stripPid); !strings.HasPrefix(first, want) || frame != spinFunc {
			t.Errorf("the hottest stack is %q with %q innermost; want %q... with %s\n%s", first, frame, want, spinFunc, res[0].Stdout)
		}
		if n := strings.Count(string(res[0].Stdout), " samples ("); n > 3 {
			t.Errorf("-m 3 shows %d stacks", n)
		}
	})
	t.Run("json", func(t *testing.T) {
		rows := eventsOf[profileRow](t, res[1].Stdout)
		h := hottest(t, rows)
		if h.Pid != int64(stripPid) || h.Comm != stripName || len(h.UserStack) == 0 || h.UserStack[0] != spinFunc {
			t.Errorf("hottest row: %+v; want pid %d comm %s with %s innermost", h, stripPid, stripName, spinFunc)
		}
		if !slices.Contains(h.UserStack, "main.main") || h.Count < 10 {
			t.Errorf("hottest row: %+v; want main.main among its callers and 10 samples or more (3 s at 49 Hz; the CPUs are shared)", h)
		}
		if h.MountNsID != mountNsID(t) || h.Runtime.ContainerName != "" {
			t.Errorf("hottest row: mntns %d container %q; want the host's %d", h.MountNsID, h.Runtime.ContainerName, mountNsID(t))
		}
		for _, r := range rows {
			if r.Comm != stripName {
				t.Errorf("--comm %s shows %+v", stripName, r)
			}
		}
	})
	t.Run("folded", func(t *testing.T) {
		var best string
		var bestN int64
		sc := bufio.NewScanner(bytes.NewReader(res[2].Stdout))
		for sc.Scan() {
			i := strings.LastIndexByte(sc.Text(), ' ')
			n, err := strconv.ParseInt(sc.Text()[i+1:], 10, 64)
			if i < 0 || err != nil {
				t.Fatalf("not a folded line: %q", sc.Text())
			}
			if n > bestN {
				best, bestN = sc.Text()[:i], n
			}
		}
		frames := strings.Split(best, ";")
		if frames[0] != plainName || frames[len(frames)-1] != spinFunc || !slices.Contains(frames, "main.main") ||
			slices.Index(frames, "main.main") > slices.Index(frames, spinFunc) {
			t.Errorf("hottest folded stack %q: want %s;...;main.main;%s (root first)", best, plainName, spinFunc)
		}
	})
	t.Run("pprof", func(t *testing.T) {
		f, err := os.Open(pprofFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		p, err := profile.Parse(f)
		if err != nil {
			t.Fatalf("pprof file: %v", err)
		}
		flat := map[string]int64{}
		for _, s := range p.Sample {
			if len(s.Location) == 0 || len(s.Location[0].Line) == 0 {
				t.Fatalf("a sample without a symbolized leaf: %+v", s)
			}
			flat[s.Location[0].Line[0].Function.Name] += s.Value[0]
			if s.Label["comm"][0] != plainName || s.NumLabel["pid"][0] != int64(plainPid) {
				t.Errorf("a sample of comm %v pid %v; want %s %d", s.Label["comm"], s.NumLabel["pid"], plainName, plainPid)
			}
		}
		var top string
		for fn, n := range flat {
			if top == "" || n > flat[top] {
				top = fn
			}
		}
		if top != spinFunc {
			t.Errorf("pprof's top function is %q (%v); want %s", top, flat, spinFunc)
		}
	})
	t.Run("svg", func(t *testing.T) { checkFlameGraph(t, svgFile) })
}

// firstTextStack is the first stack's heading of a text report and its
// innermost user frame.
func firstTextStack(out []byte) (heading, frame string) {
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if !strings.Contains(l, " samples (") {
			continue
		}
		for _, f := range lines[i+1:] {
			f = strings.TrimSpace(f)
			if f == "" {
				break
			}
			if f != "--" && !strings.HasPrefix(f, "[k] ") {
				return l, f
			}
		}
		return l, ""
	}
	return "", ""
}

// checkFlameGraph checks that the SVG is well-formed XML naming spinFunc,
// and that Chromium renders it to something other than a blank page.
func checkFlameGraph(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	inTitle, root := false, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inTitle = tok.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				titles = append(titles, string(tok))
			}
		case xml.EndElement:
			inTitle = false
		}
	}
	if root != "svg" || !slices.ContainsFunc(titles, func(s string) bool { return strings.HasPrefix(s, spinFunc+" (") }) {
		t.Fatalf("the SVG (root <%s>) has no frame %s among %d", root, spinFunc, len(titles))
	}

	chromium := requireTool(t, "chromium")
	shot := filepath.Join(t.TempDir(), "shot.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--screenshot="+shot,
		"--window-size=1200,400", "file://"+file)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours, coloured := countColours(img)
	// The frames are warm colours on a near-white page.
	if colours < 8 || coloured < 5000 {
		t.Errorf("the rendered flame graph looks blank: %d colours, %d coloured pixels", colours, coloured)
	}
}

// countColours counts an image's distinct colours and its pixels that are
// clearly coloured (not grey, white or black).
func countColours(img image.Image) (int, int) {
	seen := map[[3]uint32]bool{}
	coloured := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if max(r, g, bl)-min(r, g, bl) > 40<<8 {
				coloured++
			}
		}
	}
	return len(seen), coloured
}

// TestProfileCPUContainer runs the spinner in a docker container and, with
// the same name, on the host: profile cpu -c shows only the container's,
// attributed to it, its frames read from the container's binary.
func TestProfileCPUContainer(t *testing.T) {
	igBinary(t)
	docker := requireTool(t, "/usr/bin/docker")
	name, _ := container(t, "docker")
	spinName := "cspin" + strconv.Itoa(os.Getpid()%100000)
	bin := buildSpinner(t, spinName, spinStatic)
	if out, err := exec.Command(docker, "cp", bin, name+":/"+spinName).CombinedOutput(); err != nil {
		t.Fatalf("docker cp: %v\n%s", err, out)
	}
	ig := startIG(t, "profile", "cpu", "-v", "-c", name, "-o", "json")
	ig.waitVerboseAttached()
	host := startSpinner(t, bin, 3)
	inContainer(t, "docker", name, "/"+spinName, "3")
	if err := host.Wait(); err != nil {
		t.Fatal(err)
	}
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	rows := eventsOf[profileRow](t, r.Stdout)
	h := hottest(t, rows)
	if h.Comm != spinName || len(h.UserStack) == 0 || h.UserStack[0] != spinFunc || h.Count < 10 {
		t.Errorf("hottest row: %+v; want comm %s with %s innermost, 10 samples or more", h, spinName, spinFunc)
	}
	for _, row := range rows {
		if row.Runtime.ContainerName != name || row.Runtime.RuntimeName != "docker" || row.Pid == int64(host.Process.Pid) {
			t.Errorf("-c %s shows a row of pid %d comm %s in container %q (%s); the host's spinner is pid %d",
				name, row.Pid, row.Comm, row.Runtime.ContainerName, row.Runtime.RuntimeName, host.Process.Pid)
		}
	}
}

// TestProfileCPUStacksFlags: -U leaves out kernel frames, -K user frames;
// bad flags fail with one line, before anything loads.
func TestProfileCPUStacksFlags(t *testing.T) {
	igBinary(t)
	name := "spinf" + strconv.Itoa(os.Getpid()%100000)
	bin := buildSpinner(t, name, spinStatic)
	user := startIG(t, "profile", "cpu", "-v", "--comm", name, "-U", "-o", "json")
	kernel := startIG(t, "profile", "cpu", "-v", "--comm", name, "-K", "-o", "json")
	user.waitVerboseAttached()
	kernel.waitVerboseAttached()
	// The spinner's main thread spins; the Go runtime's threads sleep in
	// system calls meanwhile, so it has kernel stacks too.
	if err := startSpinner(t, bin, 2).Wait(); err != nil {
		t.Fatal(err)
	}
	ur, kr := user.stop(os.Interrupt), kernel.stop(os.Interrupt)
	checkSuccess(t, ur)
	checkSuccess(t, kr)
	urows, krows := eventsOf[profileRow](t, ur.Stdout), eventsOf[profileRow](t, kr.Stdout)
	if h := hottest(t, urows); len(h.UserStack) == 0 || h.UserStack[0] != spinFunc {
		t.Errorf("-U: hottest row %+v; want %s innermost", h, spinFunc)
	}
	for _, r := range urows {
		if len(r.KernelStack) > 0 {
			t.Errorf("-U: a row with kernel frames: %+v", r)
		}
	}
	for _, r := range krows {
		if len(r.UserStack) > 0 {
			t.Errorf("-K: a row with user frames: %+v", r)
		}
	}
	if len(krows) == 0 {
		t.Error("-K: no rows")
	}

	for _, args := range [][]string{
		{"--frequency", "0"}, {"-U", "-K"}, {"-o", "pprof"}, {"-o", "svg=/nonexistent/x.svg"}, {"-m", "-1"},
	} {
		r := runIG(t, append([]string{"profile", "cpu", "-t", "1"}, args...)...)
		checkFailure(t, r)
		if lines := strings.Count(strings.TrimSpace(string(r.Stderr)), "\n"); lines > 0 || len(r.Stdout) > 0 {
			t.Errorf("%v: want one line on stderr, nothing on stdout: %s", args, r)
		}
	}
}
