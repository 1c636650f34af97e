package tracers

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// OutputDirFlag is --output-dir of the gadgets that write a document per
// container (advise): what goes in it says usage.
func OutputDirFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "output-dir", Usage: usage}
}

// OutputDir reads --output-dir and checks, before anything is recorded,
// that the directory exists and a file can be made in it: "" when the
// flag is not given (the documents are printed).
func OutputDir(args Args) (string, error) {
	dir := args.String("output-dir")
	if dir == "" {
		return "", nil
	}
	fail := func(why string, a ...any) (string, error) {
		return "", fmt.Errorf("--output-dir %s: "+why, append([]any{dir}, a...)...)
	}
	st, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return fail("no such directory")
	case err != nil:
		return "", fmt.Errorf("--output-dir %w", err)
	case !st.IsDir():
		return fail("not a directory")
	}
	f, err := os.CreateTemp(dir, ".ig-check-*")
	if err != nil {
		return fail("cannot write in it: %v", errors.Unwrap(err))
	}
	f.Close()
	return dir, os.Remove(f.Name())
}
