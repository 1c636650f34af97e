package tracers

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errno splits a syscall's result: the errno and its name when it failed
// (ret < 0), 0 and "" when it did not.
func Errno(ret int64) (int32, string) {
	if ret >= 0 {
		return 0, ""
	}
	errno := int32(-ret)
	return errno, ErrnoName(errno)
}

// ErrnoName names an errno ("ENOENT"), or gives its number when it has no name.
func ErrnoName(errno int32) string {
	if errno == 0 {
		return ""
	}
	if name := unix.ErrnoName(syscall.Errno(errno)); name != "" {
		return name
	}
	return "E" + strconv.Itoa(int(errno))
}

// BitNames turns a bit set into names, memoized because the same few values
// come back event after event. Bits without a name are shown in hex.
type BitNames struct {
	Names []NamedBits
	cache map[uint64][]string
}

// NamedBits is a name and the bits it stands for (some names cover several).
// With a Mask, the name stands for a value of the masked field instead
// (O_RDONLY is 0 in the O_ACCMODE field).
type NamedBits struct {
	Bits uint64
	Mask uint64
	Name string
}

// Of returns the names of v's bits. The returned slice is shared: do not modify it.
func (b *BitNames) Of(v uint64) []string {
	if names, ok := b.cache[v]; ok {
		return names
	}
	names := []string{}
	rest := v
	for _, n := range b.Names {
		mask := n.Mask
		if mask == 0 {
			mask = n.Bits
		}
		if mask != 0 && v&mask == n.Bits && rest&mask == v&mask {
			names = append(names, n.Name)
			rest &^= mask
		}
	}
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(rest, 16))
	}
	if b.cache == nil || len(b.cache) > 1024 {
		b.cache = map[uint64][]string{}
	}
	b.cache[v] = names
	return names
}

// ModeString shows the permission bits of a file mode (the low 12 bits; the
// rest is ignored) as ls -l does for a regular file: "-rwxr-xr-x", with the
// set-user-ID, set-group-ID and sticky bits as s or t in the execute
// positions, capitalized (S, T) when the execute bit under them is not set.
func ModeString(mode uint32) string {
	const rwx = "rwxrwxrwx"
	b := []byte("----------")
	for i := 0; i < 9; i++ {
		if mode&(1<<(8-i)) != 0 {
			b[1+i] = rwx[i]
		}
	}
	for _, sp := range []struct {
		bit    uint32
		at     int
		x, noX byte
	}{{0o4000, 3, 's', 'S'}, {0o2000, 6, 's', 'S'}, {0o1000, 9, 't', 'T'}} {
		if mode&sp.bit != 0 {
			if b[sp.at] == 'x' {
				b[sp.at] = sp.x
			} else {
				b[sp.at] = sp.noX
			}
		}
	}
	return string(b)
}

// OpenFlags names the bits of open(2) flags. The access mode is a field, not
// bits: O_RDONLY is its value 0.
var OpenFlags = []NamedBits{
	{Bits: unix.O_RDONLY, Mask: unix.O_ACCMODE, Name: "O_RDONLY"},
	{Bits: unix.O_WRONLY, Mask: unix.O_ACCMODE, Name: "O_WRONLY"},
	{Bits: unix.O_RDWR, Mask: unix.O_ACCMODE, Name: "O_RDWR"},
	{Bits: unix.O_CREAT, Name: "O_CREAT"},
	{Bits: unix.O_EXCL, Name: "O_EXCL"},
	{Bits: unix.O_NOCTTY, Name: "O_NOCTTY"},
	{Bits: unix.O_TRUNC, Name: "O_TRUNC"},
	{Bits: unix.O_APPEND, Name: "O_APPEND"},
	{Bits: unix.O_NONBLOCK, Name: "O_NONBLOCK"},
	{Bits: unix.O_SYNC, Name: "O_SYNC"}, // before O_DSYNC: O_SYNC includes its bit
	{Bits: unix.O_DSYNC, Name: "O_DSYNC"},
	{Bits: unix.O_ASYNC, Name: "O_ASYNC"},
	{Bits: unix.O_DIRECT, Name: "O_DIRECT"},
	{Bits: 0o100000, Name: "O_LARGEFILE"},     // unix.O_LARGEFILE is 0 on amd64; the kernel sets this bit
	{Bits: unix.O_TMPFILE, Name: "O_TMPFILE"}, // before O_DIRECTORY: O_TMPFILE includes its bit
	{Bits: unix.O_DIRECTORY, Name: "O_DIRECTORY"},
	{Bits: unix.O_NOFOLLOW, Name: "O_NOFOLLOW"},
	{Bits: unix.O_NOATIME, Name: "O_NOATIME"},
	{Bits: unix.O_CLOEXEC, Name: "O_CLOEXEC"},
	{Bits: unix.O_PATH, Name: "O_PATH"},
}

// SignalName names a signal as ig shows it: SIGUSR1; a number without a
// name (0, the real-time signals) as SIG34, 0 as "0".
func SignalName(sig int32) string {
	if name := unix.SignalName(syscall.Signal(sig)); name != "" {
		return name
	}
	if sig == 0 {
		return "0"
	}
	return "SIG" + strconv.Itoa(int(sig))
}
