// Package tcprtt is the profile tcprtt gadget: a histogram of TCP
// round-trip times.
package tcprtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Report is one histogram: of every connection, or of one local or remote
// address (--byladdr, --byraddr). JSON names are Inspektor Gadget's.
type Report struct {
	Runtime tracers.Runtime `json:"runtime" desc:"the container the segments were for, with --per-container (by the socket's network namespace: containers sharing one are named together; empty for the host's)"`
	K8s     tracers.K8s     `json:"k8s" desc:"its Kubernetes identity, with --per-container"`
	output.Histogram
	Address     string  `json:"address" column:"address,width:39" desc:"the local or remote address the histogram is of; ****** for all addresses"`
	AddressType string  `json:"addressType" column:"type,width:13" desc:"what address is: Local (--byladdr), Remote (--byraddr) or All Addresses"`
	Average     float64 `json:"average" column:"avg,width:10,right" desc:"the average round-trip time, in the histogram's unit"`
	LocalPort   uint16  `json:"localPort" column:"lport,width:5,right" desc:"the --lport filter; 0 when none"`
	RemotePort  uint16  `json:"remotePort" column:"rport,width:5,right" desc:"the --rport filter; 0 when none"`
}

var schema = output.NewSchema[Report]()

// IG's names for the kinds of histogram.
const (
	addressAll    = "All Addresses"
	addressLocal  = "Local"
	addressRemote = "Remote"
	wildcard      = "******"
)

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "profile",
		Name:        "tcprtt",
		Description: "Summarize TCP round-trip times (the kernel's smoothed RTT at each segment received) as a histogram",
		Flags: append(tracers.SummaryFlags(),
			&cli.BoolFlag{Name: "milliseconds", Aliases: []string{"m"}, Usage: "histogram in milliseconds instead of microseconds"},
			&cli.BoolFlag{Name: "byladdr", Aliases: []string{"b"}, Usage: "a histogram per local address"},
			&cli.BoolFlag{Name: "byraddr", Aliases: []string{"B"}, Usage: "a histogram per remote address"},
			&cli.StringFlag{Name: "lport", Usage: "only connections with this local `PORT`"},
			&cli.StringFlag{Name: "rport", Usage: "only connections with this remote `PORT`"},
			&cli.StringFlag{Name: "laddr", Usage: "only connections with this local `ADDRESS` (IPv4 or IPv6)"},
			&cli.StringFlag{Name: "raddr", Usage: "only connections with this remote `ADDRESS` (IPv4 or IPv6)"},
			&cli.BoolFlag{Name: "per-container", Usage: "a histogram per container (by the socket's network namespace), and one for the host"},
		),
		Schema:  schema,
		Columns: tracers.Fixed("container", "address", "type", "avg"),
		Run:     run,
		Unfit:   unfit,
	})
}

// unfit: the tracefs tracepoint does not give the socket, whose network
// namespace says which container a segment is for.
func unfit(args tracers.Args, variant string) string {
	if variant == "tracepoint" && (args.Bool("per-container") || tracers.SelectsContainers(args)) {
		return "tracefs tracepoint: it does not give the socket's network namespace, which -c, --containers and --per-container need"
	}
	return ""
}

type config struct {
	byLocal, byRemote, ms bool
	perContainer          bool
	lport, rport          uint16
	consts                map[string]any
}

func parse(args tracers.Args) (*config, error) {
	c := &config{byLocal: args.Bool("byladdr"), byRemote: args.Bool("byraddr"), ms: args.Bool("milliseconds"),
		perContainer: args.Bool("per-container")}
	if c.byLocal && c.byRemote {
		return nil, errors.New("--byladdr and --byraddr: one histogram per local or per remote address, not both")
	}
	var err error
	if c.lport, err = parsePort("lport", args.String("lport")); err != nil {
		return nil, err
	}
	if c.rport, err = parsePort("rport", args.String("rport")); err != nil {
		return nil, err
	}
	c.consts = map[string]any{
		"by_laddr": c.byLocal, "by_raddr": c.byRemote, "milliseconds": c.ms,
		"filter_lport": c.lport, "filter_rport": c.rport,
	}
	for _, end := range []string{"laddr", "raddr"} {
		family, addr, err := parseAddr(end, args.String(end))
		if err != nil {
			return nil, err
		}
		c.consts["filter_"+end+"_family"] = family
		c.consts["filter_"+end] = addr
	}
	return c, nil
}

func parsePort(flag, s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("--%s %s: not a port (1 to 65535)", flag, s)
	}
	return uint16(p), nil
}

// parseAddr gives the address as the kernel keeps it (struct
// ig_sock_ends): IPv4 in the first 4 bytes; family 0 for no filter.
func parseAddr(flag, s string) (uint16, [16]byte, error) {
	var b [16]byte
	if s == "" {
		return 0, b, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return 0, b, fmt.Errorf("--%s %s: not an IPv4 or IPv6 address", flag, s)
	}
	if a.Is4() {
		v4 := a.As4()
		copy(b[:], v4[:])
		return tracers.AFInet, b, nil
	}
	return tracers.AFInet6, a.As16(), nil
}

func run(ctx context.Context, env *tracers.Env) error {
	if env.Filter.ByProcess() {
		return errors.New("segments are received in softirq, not by a process: --pid, --comm and -F on pid, comm or uid cannot apply; filter with -c, --laddr, --raddr, --lport, --rport")
	}
	c, err := parse(env.Args)
	if err != nil {
		return err
	}
	// Under -c or --containers the kernel lets through namespaces it has
	// no verdict for (one that just appeared): histograms by namespace
	// let collect decide those.
	filtered := env.Filter.MntNsMode != tracers.MntNsAll
	c.consts["per_netns"] = c.perContainer || filtered
	if filtered {
		env.WarnHostNetwork()
	}
	spec, err := loadTcprtt()
	if err != nil {
		return err
	}
	return tracers.RunSummary(ctx, env, spec, c.consts, tracers.SummarySpec[Report]{
		Collect: func(p *tracers.Program) ([]Report, error) { return c.collect(env, p) },
		Text:    c.writeText,
	})
}

func (c *config) collect(env *tracers.Env, p *tracers.Program) ([]Report, error) {
	m, ok := p.Coll.Maps["hists"]
	if !ok {
		return nil, fmt.Errorf("eBPF object has no map hists")
	}
	unit := "us"
	if c.ms {
		unit = "ms"
	}
	kind := addressAll
	if c.byLocal {
		kind = addressLocal
	} else if c.byRemote {
		kind = addressRemote
	}
	type drained struct {
		key  tcprttHistKey
		hist tcprttIgHist
	}
	var all []drained
	var nss []uint64
	err := tracers.DrainMap(m, func(k *tcprttHistKey, h *tcprttIgHist) {
		all = append(all, drained{*k, *h})
		nss = append(nss, k.Netns)
	})
	if err != nil {
		return nil, err
	}
	owners := env.NetContainers(nss)
	var hists tracers.Histograms[Report]
	kept := 0
	for _, d := range all {
		owner := owners[d.key.Netns]
		if !owner.Accepted {
			continue
		}
		kept++
		r := Report{AddressType: kind, Address: wildcard, LocalPort: c.lport, RemotePort: c.rport}
		if kind != addressAll {
			r.Address = tracers.SockAddr(d.key.Family, d.key.Addr)
		}
		if c.perContainer {
			r.Runtime, r.K8s = owner.Runtime, owner.K8s
		}
		hists.Add(r.Address+"\x00"+r.Runtime.ContainerID+"\x00"+r.Runtime.ContainerName, r, d.hist.Slots[:], d.hist.Count, d.hist.Sum)
	}
	env.Logf("%d histograms from the kernel, %d after filters", len(all), kept)
	rows := hists.Rows(func(r *Report, slots []uint64, count, sum uint64) {
		r.Histogram = output.Log2Histogram(unit, slots)
		if count > 0 {
			r.Average = float64(sum) / float64(count)
		}
	})
	if len(rows) == 0 && kind == addressAll && !c.perContainer {
		// Nothing received: still the one (empty) histogram.
		rows = append(rows, Report{Histogram: output.Log2Histogram(unit, nil), AddressType: kind,
			Address: wildcard, LocalPort: c.lport, RemotePort: c.rport})
	}
	sort.Slice(rows, func(i, j int) bool {
		if a, b := rows[i].Runtime.ContainerName, rows[j].Runtime.ContainerName; a != b {
			return a < b
		}
		return rows[i].Address < rows[j].Address
	})
	return rows, nil
}

func (c *config) writeText(w io.Writer, rows []Report) error {
	for i := range rows {
		r := &rows[i]
		heading := "All Addresses = " + wildcard
		if r.AddressType != addressAll {
			heading = r.AddressType + " Address = " + r.Address
		}
		if c.perContainer {
			who := "host"
			if r.Runtime.ContainerName != "" {
				who = "container = " + r.Runtime.ContainerName
			} else if r.K8s.PodName != "" {
				who = "pod = " + r.K8s.PodName
			}
			heading = who + ", " + heading
		}
		if _, err := fmt.Fprintf(w, "%s [AVG %.2f]\n", heading, r.Average); err != nil {
			return err
		}
		if err := r.WriteText(w); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no TCP segments received")
		return err
	}
	return nil
}
