package cli

import (
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
)

// containerRow is one container in `ig list-containers`.
type containerRow struct {
	Runtime   string `json:"runtime" column:"runtime,width:10"`
	ID        string `json:"id"`
	ShortID   string `json:"-" column:"id,width:12"`
	Name      string `json:"name" column:"name,width:16"`
	Image     string `json:"image" column:"image,width:24"`
	Pid       int    `json:"pid" column:"pid,width:7,right"`
	MountNsID uint64 `json:"mountnsid" column:"mntns,width:10,right"`
	NetNsID   uint64 `json:"netnsid" column:"netns,width:10,right"`
	OwnerUID  uint32 `json:"ownerUid" column:"owner,width:5,right"`
	Namespace string `json:"namespace" column:"namespace,width:10"`
	PodName   string `json:"podName" column:"pod,width:16"`
}

// containerEvent is one line of `ig list-containers --watch`.
type containerEvent struct {
	Event string `json:"event" column:"event,width:7"` // ADDED or REMOVED
	containerRow
}

var (
	containerSchema      = output.NewSchema[containerRow]()
	containerEventSchema = output.NewSchema[containerEvent]()
	containerColumns     = []string{"runtime", "id", "name", "image", "pid", "mntns", "netns", "owner", "namespace", "pod"}
)

func rowOf(ct runtimes.Container) containerRow {
	short := ct.ID
	if len(short) > 12 {
		short = short[:12]
	}
	return containerRow{Runtime: ct.Runtime, ID: ct.ID, ShortID: short, Name: ct.Name, Image: ct.Image, Pid: ct.Pid,
		MountNsID: ct.MountNsID, NetNsID: ct.NetNsID, OwnerUID: ct.OwnerUID, Namespace: ct.PodNamespace, PodName: ct.PodName}
}

func listContainersCommand() *cli.Command {
	return &cli.Command{
		Name:         "list-containers",
		Usage:        "list the containers of every runtime found (docker, containerd, CRI-O, podman)",
		OnUsageError: usageError,
		Flags: append(append(append(outputFlags(), timeoutFlag()), runtimeFlags()...),
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "then print containers as they start and stop"}),
		Before: checkFlagsApply,
		Action: func(c *cli.Context) error {
			format, err := output.ParseFormat(flagString(c, "output"))
			if err != nil {
				return err
			}
			schema := containerSchema
			if c.Bool("watch") {
				schema = containerEventSchema
			}
			if err := schema.Check(format); err != nil {
				return err
			}
			env := &tracers.Env{Stdout: os.Stdout, Stderr: os.Stderr, Verbose: flagBool(c, "verbose")}
			coll, err := connectRuntimes(c, env)
			if err != nil {
				return err
			}
			defer coll.Close()
			if len(coll.Runtimes()) == 0 {
				env.Warnf("no container runtime found: no docker, containerd, CRI-O or podman API socket answers (ig -v says where it looked)")
			}
			if !c.Bool("watch") {
				var rows []containerRow
				for _, ct := range coll.Containers() {
					rows = append(rows, rowOf(ct))
				}
				p, err := output.NewPrinter[containerRow](os.Stdout, containerSchema, format, containerColumns)
				if err != nil {
					return err
				}
				return p.PrintAll(rows)
			}
			return watchContainers(c, env, coll, format)
		},
	}
}

// watchContainers prints the running containers as ADDED, then every
// change, until Ctrl-C, SIGTERM or --timeout.
func watchContainers(c *cli.Context, env *tracers.Env, coll *runtimes.Collection, format output.Format) error {
	p, err := output.NewPrinter[containerEvent](os.Stdout, containerEventSchema, format, append([]string{"event"}, containerColumns...))
	if err != nil {
		return err
	}
	changes := make(chan containerEvent, 256)
	coll.OnChange(func(added, removed []runtimes.Container) {
		// Removed first: a restarted container is removed, then added.
		for _, ct := range removed {
			changes <- containerEvent{Event: "REMOVED", containerRow: rowOf(ct)}
		}
		for _, ct := range added {
			changes <- containerEvent{Event: "ADDED", containerRow: rowOf(ct)}
		}
	})
	p.Header()
	for _, ct := range coll.Containers() {
		ev := containerEvent{Event: "ADDED", containerRow: rowOf(ct)}
		p.Print(&ev)
	}
	if err := p.Flush(); err != nil {
		return err
	}
	env.Logf("watching containers (%s)", strings.Join(coll.Runtimes(), ", "))
	ctx, cancel := signalContext(flagValue(c, "timeout", (*cli.Context).Float64))
	defer cancel()
	go coll.Run(ctx, watchInterval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-changes:
			p.Print(&ev)
			if err := p.Flush(); err != nil {
				return err
			}
		}
	}
}

// watchInterval is how often --watch asks the runtimes for their containers.
const watchInterval = 250 * time.Millisecond
