package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// filterList is -F's value: repeatable, each one whole (a regular
// expression may hold commas, which a string slice flag would split on).
type filterList []string

// Set adds one -F. cli copies a flag's value between contexts by setting
// it to its String(): a JSON list, taken back whole (no -F starts with
// "[": it starts with a column name).
func (f *filterList) Set(v string) error {
	if strings.HasPrefix(v, "[") {
		var all []string
		if err := json.Unmarshal([]byte(v), &all); err == nil {
			*f = all
			return nil
		}
	}
	*f = append(*f, v)
	return nil
}

func (f *filterList) String() string {
	if f == nil || len(*f) == 0 {
		return ""
	}
	b, _ := json.Marshal([]string(*f))
	return string(b)
}

func filterFlag() cli.Flag {
	return &cli.GenericFlag{Name: "filter", Aliases: []string{"F"}, Value: &filterList{},
		Usage: "only rows where `COLUMN:VALUE` holds; repeatable, all must hold. VALUE, !VALUE, >=V, >V, <=V, <V, ~REGEX or !~REGEX; " +
			"any column or JSON field (runtime.containerName); durations (10ms) and sizes (4KiB) where the field has a unit"}
}

// filters are -F's values, wherever they were given: before the command,
// after the category, after the gadget, all of them (each must hold).
func filters(c *cli.Context) []string {
	var all []string
	for _, cc := range c.Lineage() {
		if cc.Command == nil && cc.App == nil || !cc.IsSet("filter") {
			continue
		}
		if l, ok := cc.Generic("filter").(*filterList); ok && l != nil {
			for _, f := range *l {
				if !slices.Contains(all, f) { // a level's copy of another's
					all = append(all, f)
				}
			}
		}
	}
	return all
}

// pushDown hands the kernel what it can do of the filters: an equality on
// pid, comm or uid joins --pid, --comm (when they are not given) and the
// kernel's uid check; one on the container selects it as -c does, when
// no -c is given, without requiring that it runs. User space still checks
// every filter.
func pushDown(fl output.Filter, f *tracers.Filter, sel *tracers.Selection) {
	if v := fl.Pushable("pid"); v != "" && f.Pid == 0 {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && n > 0 {
			f.Pid = uint32(n)
		}
	}
	if v := fl.Pushable("comm"); v != "" && f.Comm == "" && len(v) < 16 {
		f.Comm = v
	}
	if v := fl.Pushable("uid"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			uid := uint32(n)
			f.Uid = &uid
		}
	}
	if v := fl.Pushable("container"); v != "" && len(sel.Names) == 0 {
		sel.Names, sel.Lenient = []string{v}, true
	}
}
