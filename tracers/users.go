package tracers

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The host's user and group names by id, as Inspektor Gadget shows them
// beside uid and gid. Read once, on the first event: the lookup then costs
// a map read per event. An id inside a user namespace or a container is
// named as the host names it, as IG does.
var idNames = sync.OnceValue(func() *idTables {
	return &idTables{users: readIDNames("/etc/passwd"), groups: readIDNames("/etc/group")}
})

type idTables struct{ users, groups map[uint32]string }

// readIDNames reads name:password:id:... lines (passwd(5), group(5)); the
// first name of an id wins, as getpwuid's. A missing file names nothing.
func readIDNames(path string) map[uint32]string {
	names := map[uint32]string{}
	f, err := os.Open(path)
	if err != nil {
		return names
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 4)
		if len(fields) < 3 || fields[0] == "" || strings.HasPrefix(fields[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := names[uint32(id)]; !dup {
			names[uint32(id)] = fields[0]
		}
	}
	return names
}

// fillNames sets ev's user and group names from its uid and gid; none for
// an event with no process (a socket's, seen in softirq: its uid 0 is no
// one's).
func fillNames(ev *Event) {
	if ev.Pid == 0 && ev.Comm == "" {
		ev.User, ev.Group = "", ""
		return
	}
	t := idNames()
	ev.User, ev.Group = t.users[ev.Uid], t.groups[ev.Gid]
}
