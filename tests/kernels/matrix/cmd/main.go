// Command cmd checks the guests' results of a `make kernels` run (tests/kernels/run.sh) and
// writes the kernel matrix; with -markdown it prints a matrix file as the README's table.
//
//	cmd -list tests/kernels/kernels.list -logs DIR -out testdata/kernel-matrix.json [-partial]
//	cmd -markdown testdata/kernel-matrix.json
//	cmd -readme README.md testdata/kernel-matrix.json
//
// DIR holds, for each kernel (named by its first package), NAME.meta (run.sh's key=value
// facts), NAME.results (the guest's second serial port) and NAME.console. The matrix is written
// in any case (a failed gadget's cell says what went wrong); on any failure it names the kernel
// and gadget and exits 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/tests/kernels/matrix"
)

func main() {
	list := flag.String("list", "tests/kernels/kernels.list", "the kernels list")
	logs := flag.String("logs", "", "the directory run.sh wrote the logs to")
	out := flag.String("out", "testdata/kernel-matrix.json", "the matrix file to write")
	partial := flag.Bool("partial", false, "skip kernels of the list that have no logs")
	markdown := flag.String("markdown", "", "print this matrix file as a Markdown table and exit")
	readme := flag.String("readme", "", "put the matrix file given as argument in this README's kernel-matrix block and exit")
	flag.Parse()
	if *readme != "" {
		if flag.NArg() != 1 {
			fatal(errors.New("-readme README.md MATRIX.json"))
		}
		m, err := matrix.Load(flag.Arg(0))
		if err != nil {
			fatal(err)
		}
		doc, err := os.ReadFile(*readme)
		if err != nil {
			fatal(err)
		}
		out, ok := matrix.ReplaceReadmeBlock(string(doc), m.Markdown())
		if !ok {
			fatal(fmt.Errorf("%s has no %q ... %q block", *readme, matrix.ReadmeBegin, matrix.ReadmeEnd))
		}
		if out != string(doc) {
			if err := os.WriteFile(*readme, []byte(out), 0o644); err != nil {
				fatal(err)
			}
			fmt.Fprintf(os.Stderr, "kernels: updated the kernel matrix in %s\n", *readme)
		}
		return
	}
	if *markdown != "" {
		m, err := matrix.Load(*markdown)
		if err != nil {
			fatal(err)
		}
		fmt.Print(m.Markdown())
		return
	}
	if *logs == "" {
		fatal(errors.New("-logs is required"))
	}
	f, err := os.Open(*list)
	if err != nil {
		fatal(err)
	}
	entries, err := matrix.ParseList(f)
	f.Close()
	if err != nil {
		fatal(err)
	}

	var m matrix.Matrix
	var errs []error
	for _, e := range entries {
		base := filepath.Join(*logs, e.Name())
		mf, err := os.Open(base + ".meta")
		if err != nil {
			if *partial && os.IsNotExist(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("kernel %s: not booted: %v", e.Name(), err))
			continue
		}
		meta, err := matrix.ParseMeta(mf)
		mf.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("kernel %s: %s.meta: %v", e.Name(), base, err))
			continue
		}
		g := &matrix.Guest{}
		if rf, err := os.Open(base + ".results"); err == nil {
			g, err = matrix.ParseGuest(rf)
			rf.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("kernel %s: %s.results: %v", meta.Release, base, err))
				continue
			}
		}
		k, kerrs := matrix.Build(meta, g, btf.EmbeddedReleases())
		errs = append(errs, kerrs...)
		if len(kerrs) > 0 {
			errs = append(errs, fmt.Errorf("kernel %s: console log: %s.console", meta.Release, base))
		}
		m.Add(k)
		fmt.Fprintf(os.Stderr, "kernels: %-34s %5.1f s (boot attempts: %d):", meta.Release, meta.Seconds, meta.Attempts)
		for _, r := range g.Results {
			fmt.Fprintf(os.Stderr, " %s[%s] %s %.1fs;", r.Gadget, r.BTF, r.Status, r.Seconds)
		}
		fmt.Fprintln(os.Stderr)
	}
	if len(m.Kernels) == 0 {
		errs = append(errs, errors.New("no kernel was booted"))
	} else if err := m.Check(); err != nil {
		errs = append(errs, err)
	}
	data, err := m.JSON()
	if err != nil {
		fatal(err)
	}
	if len(m.Kernels) > 0 {
		if err := os.WriteFile(*out, data, 0o644); err != nil {
			fatal(err)
		}
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(os.Stderr, "kernels: FAIL: %v\n", err)
		}
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "kernels: %v\n", err)
	os.Exit(1)
}
