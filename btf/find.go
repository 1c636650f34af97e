package btf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Availability says where Load would take the kernel's BTF from, as far as that can be
// told without downloading anything or decoding every type.
type Availability struct {
	Source   string // SourceVmlinux, SourceEmbedded, SourceBTFHub or SourceFile; "" when no source has BTF
	Path     string // as Result.Path: a file, "embedded:<release>", or for a download its URL
	Download bool   // SourceBTFHub and not cached: Load would download Path, which may still fail
	Missing  string // when Source is "": why each source has none, one line
}

// Find says which source Load would use, trying the same sources in the same order, but
// cheaply and offline:
//
//   - vmlinux: the file exists, is readable and starts like BTF (or an ELF);
//   - embedded: ig carries BTF for this release;
//   - btfhub: the cache holds this release's BTF (as vmlinux), or else the download URL can
//     be made (os-release, architecture): then Download is set, since only Load can tell
//     whether the archive has this kernel;
//   - Options.File: the file is readable and its BTF header and strings parse (Load also
//     decodes every type, so a file damaged past its header is only caught there).
//
// The error is for options Load would refuse too (an unknown source, no uname).
func Find(o Options) (Availability, error) {
	if o.File != "" {
		data, err := readFile(o.File)
		if err == nil {
			_, err = parse(o.File, data, false)
		}
		if err != nil {
			return Availability{Missing: "--btf: " + err.Error()}, nil
		}
		return Availability{Source: SourceFile, Path: o.File}, nil
	}
	sources, release, err := sourcesAndRelease(o)
	if err != nil {
		return Availability{}, err
	}
	var reasons []string
	for _, s := range sources {
		var a Availability
		switch s {
		case SourceVmlinux:
			a, err = findVmlinux(o)
		case SourceEmbedded:
			a, err = findEmbedded(release)
		case SourceBTFHub:
			a, err = findHub(o, release)
		}
		if err == nil {
			a.Source = s
			return a, nil
		}
		reasons = append(reasons, s+": "+err.Error())
	}
	return Availability{Missing: strings.Join(reasons, ", ")}, nil
}

func findVmlinux(o Options) (Availability, error) {
	p := o.VmlinuxPath
	if p == "" {
		p = defaultVmlinuxPath
	}
	if err := checkMagic(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Availability{}, skipf("%s not found", p)
		}
		return Availability{}, err
	}
	return Availability{Path: p}, nil
}

func findEmbedded(release string) (Availability, error) {
	if strings.ContainsAny(release, `/\`) || release == "." || release == ".." {
		return Availability{}, skipf("no entry for %s", release)
	}
	if _, err := fs.Stat(embedded, "embedded/"+release+".btf"); err != nil {
		return Availability{}, skipf("no entry for %s", release)
	}
	return Availability{Path: "embedded:" + release}, nil
}

// findHub: a cached file Load would use as it is, or else a download. A cached file that is
// damaged is downloaded again by Load, so it counts as a download here too.
func findHub(o Options, release string) (Availability, error) {
	_, cached, err := hubCache(o, release)
	if err != nil {
		return Availability{}, err
	}
	if checkMagic(cached) == nil {
		return Availability{Path: cached}, nil
	}
	_, _, url, err := hubURL(o, release)
	if err != nil {
		return Availability{}, err
	}
	return Availability{Path: url, Download: true}, nil
}

// checkMagic reads the first bytes of a file: raw BTF (either byte order) or an ELF.
func checkMagic(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	var head [4]byte
	n, err := io.ReadFull(f, head[:])
	switch {
	case n == 0 && (err == nil || err == io.EOF):
		return fmt.Errorf("parse BTF %s: empty file", p)
	case err != nil && err != io.ErrUnexpectedEOF:
		return fmt.Errorf("read %s: %w", p, err)
	case n >= 2 && (head[0] == 0x9f && head[1] == 0xeb || head[0] == 0xeb && head[1] == 0x9f):
		return nil
	case n == 4 && string(head[:]) == "\x7fELF":
		return nil
	}
	return fmt.Errorf("parse BTF %s: neither BTF nor an ELF file", p)
}
