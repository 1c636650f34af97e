package docker

import "os"

// fileType names what a path that should be a socket is instead.
func fileType(m os.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case os.ModeDir:
		return "a directory"
	case os.ModeNamedPipe:
		return "a named pipe"
	case os.ModeDevice, os.ModeDevice | os.ModeCharDevice:
		return "a device"
	case os.ModeSymlink:
		return "a symbolic link"
	}
	return "mode " + m.Type().String()
}
