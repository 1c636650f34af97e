package cpu

import (
	"io"
	"strconv"
	"time"

	"github.com/google/pprof/profile"
)

// writePprof writes the rows as a gzipped pprof profile: samples and CPU
// time per stack, each sample labelled with its command, pid and container.
// Kernel frames carry the [k] suffix in their names' file, so that
// pprof -filefunctions tells them apart.
func writePprof(w io.Writer, rows []Report, period time.Duration) error {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     int64(period),
		TimeNanos:  time.Now().UnixNano(),
	}
	funcs := map[string]*profile.Function{}
	locs := map[string]*profile.Location{}
	location := func(name, file string) *profile.Location {
		key := file + "\x00" + name
		if l, ok := locs[key]; ok {
			return l
		}
		fn := &profile.Function{ID: uint64(len(funcs) + 1), Name: name, SystemName: name, Filename: file}
		funcs[key] = fn
		p.Function = append(p.Function, fn)
		l := &profile.Location{ID: uint64(len(locs) + 1), Line: []profile.Line{{Function: fn}}}
		locs[key] = l
		p.Location = append(p.Location, l)
		return l
	}
	for _, r := range rows {
		s := &profile.Sample{
			Value:    []int64{int64(r.Count), int64(r.Count) * int64(period)},
			Label:    map[string][]string{"comm": {r.Comm}},
			NumLabel: map[string][]int64{"pid": {int64(r.Pid)}},
		}
		if r.Runtime.ContainerName != "" {
			s.Label["container"] = []string{r.Runtime.ContainerName}
		}
		// Innermost first, as pprof wants: kernel frames, then user ones.
		for _, f := range r.KernelStack {
			s.Location = append(s.Location, location(f, "[kernel]"))
		}
		for _, f := range r.UserStack {
			s.Location = append(s.Location, location(f, ""))
		}
		if len(s.Location) == 0 {
			s.Location = append(s.Location, location(r.Comm+" [pid "+strconv.Itoa(int(r.Pid))+"]", ""))
		}
		p.Sample = append(p.Sample, s)
	}
	if err := p.CheckValid(); err != nil {
		return err
	}
	return p.Write(w)
}
