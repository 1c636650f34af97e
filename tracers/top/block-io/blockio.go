// Package blockio is the top block-io gadget: block device I/O per process
// and device (reads or writes, bytes, time, operations), every interval.
package blockio

import (
	"context"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Stats is one process's I/O on one device, reads or writes, over one
// interval. JSON names follow Inspektor Gadget's top block-io; the process
// is the one that issued the requests (see bpf/block.h).
type Stats struct {
	tracers.Event
	Write bool   `json:"write" desc:"true for writes, false for reads and the other requests (flushes, discards)"`
	RW    string `json:"-" column:"r/w,width:3" desc:"W for writes, R for the rest"`
	Major uint32 `json:"major" column:"major,width:5,right" desc:"the disk's major device number"`
	Minor uint32 `json:"minor" column:"minor,width:5,right" desc:"the disk's minor device number (its first: partitions count as their disk)"`
	Bytes uint64 `json:"bytes" column:"bytes,width:10,right" desc:"bytes transferred in the interval" unit:"bytes"`
	Us    uint64 `json:"us" column:"us,width:10,right" desc:"the requests' time at the device (issue to completion), in microseconds, added up" unit:"us"`
	Ops   uint64 `json:"ops" column:"ops,width:6,right" desc:"requests completed in the interval"`
}

var schema = output.NewSchema[Stats]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "top",
		Name:        "block-io",
		Description: "Show block device I/O per process and device, every interval",
		Flags:       tracers.IntervalFlags("-ops,-bytes,-us"),
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "comm", "r/w", "major", "minor", "bytes", "us", "ops"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	consts, err := tracers.BlockRequestConsts()
	if err != nil {
		return err
	}
	spec, err := loadBlockio()
	if err != nil {
		return err
	}
	var strs tracers.Interner
	return tracers.RunInterval[Stats](ctx, env, spec, consts, tracers.IntervalSpec[Stats, blockioBlockioKey, blockioBlockioValue]{
		Map: "stats",
		Row: func(k *blockioBlockioKey, v *blockioBlockioValue, row *Stats) bool {
			row.MountNsID = k.MntnsId
			row.Pid = k.Pid
			row.Comm = strs.String(tracers.CString(k.Comm[:]))
			row.Write, row.RW = k.Write != 0, "R"
			if row.Write {
				row.RW = "W"
			}
			row.Major, row.Minor = k.Major, k.Minor
			row.Bytes, row.Us, row.Ops = v.Bytes, v.Us, v.Ops
			return true
		},
	})
}
