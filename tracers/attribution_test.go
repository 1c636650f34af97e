package tracers

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/runtimes"
)

// fakeContainers is a Containers whose answers the test sets.
type fakeContainers struct {
	list     []runtimes.Container
	byNs     map[uint64]*runtimes.Container
	unknown  map[uint64]bool // namespaces not settled yet
	gen      uint64
	lookups  int
	onChange []func(added, removed []runtimes.Container)
}

func (f *fakeContainers) Containers() []runtimes.Container { return f.list }
func (f *fakeContainers) Generation() uint64               { return f.gen }
func (f *fakeContainers) Runtimes() []string               { return []string{"podman", "docker", "docker"} }
func (f *fakeContainers) OnChange(fn func(added, removed []runtimes.Container)) {
	f.onChange = append(f.onChange, fn)
}
func (f *fakeContainers) LookupNet(ns uint64) ([]*runtimes.Container, bool) {
	if f.unknown[ns] {
		return nil, false
	}
	var out []*runtimes.Container
	if host, _ := runtimes.NetworkNamespace(os.Getpid()); ns == host {
		return nil, true // host-network containers' traffic is the host's
	}
	for i := range f.list {
		if f.list[i].NetNsID == ns {
			out = append(out, &f.list[i])
		}
	}
	return out, true
}
func (f *fakeContainers) Lookup(ns uint64, _ uint32) (*runtimes.Container, bool) {
	f.lookups++
	if f.unknown[ns] {
		return nil, false
	}
	return f.byNs[ns], true
}

var (
	web = runtimes.Container{Runtime: "docker", ID: "abc", Name: "web", Image: "nginx:1", MountNsID: 100, NetNsID: 1100}
	pod = runtimes.Container{Runtime: "cri-o", ID: "def", Name: "app", Image: "app:2", MountNsID: 200, NetNsID: 1200, PodName: "p", PodNamespace: "ns"}
	db  = runtimes.Container{Runtime: "podman", ID: "ghi", Name: "db", Image: "pg:16", MountNsID: 300, NetNsID: 1300}
)

func newFake(cts ...runtimes.Container) *fakeContainers {
	f := &fakeContainers{byNs: map[uint64]*runtimes.Container{}, unknown: map[uint64]bool{}}
	for i := range cts {
		f.list = append(f.list, cts[i])
		f.byNs[cts[i].MountNsID] = &cts[i]
	}
	return f
}

func TestEnricher(t *testing.T) {
	f := newFake(web, pod)
	f.unknown[999] = true
	enrich := Enricher(f)

	ev := Event{MountNsID: 100}
	if !enrich(&ev) || ev.Runtime != (Runtime{RuntimeName: "docker", ContainerID: "abc", ContainerName: "web", ContainerImageName: "nginx:1"}) || ev.K8s != (K8s{}) {
		t.Errorf("web: %+v %+v", ev.Runtime, ev.K8s)
	}
	ev = Event{MountNsID: 200}
	if !enrich(&ev) || ev.K8s != (K8s{Namespace: "ns", PodName: "p", ContainerName: "app"}) || ev.Runtime.ContainerImageName != "app:2" {
		t.Errorf("pod: %+v %+v", ev.Runtime, ev.K8s)
	}
	// The host: settled, no container; fields left over from the last event are cleared.
	if !enrich(&ev) {
		t.Fatal("pod again: not settled")
	}
	ev.MountNsID = 1
	if !enrich(&ev) || ev.Runtime != (Runtime{}) || ev.K8s != (K8s{}) {
		t.Errorf("host: %+v %+v", ev.Runtime, ev.K8s)
	}
	// Not settled yet: false, and no stale fields.
	ev = Event{MountNsID: 999, Runtime: Runtime{ContainerName: "stale"}}
	if enrich(&ev) || ev.Runtime != (Runtime{}) {
		t.Errorf("unsettled: %v %+v", false, ev.Runtime)
	}

	// Cached per namespace until the set changes (generation) or the
	// namespace is another one under the same number (serial).
	n := f.lookups
	for i := 0; i < 10; i++ {
		ev = Event{MountNsID: 100}
		enrich(&ev)
	}
	if f.lookups != n {
		t.Errorf("%d lookups for 10 events of a known namespace, want 0", f.lookups-n)
	}
	renamed := web
	renamed.Name = "web2"
	f.byNs[100] = &renamed
	f.gen++
	ev = Event{MountNsID: 100}
	if enrich(&ev); ev.Runtime.ContainerName != "web2" {
		t.Errorf("after the set changed: %q, want web2", ev.Runtime.ContainerName)
	}
	f.byNs[100] = &db
	ev = Event{MountNsID: 100, MountNsSerial: 7}
	if enrich(&ev); ev.Runtime.ContainerName != "db" {
		t.Errorf("another namespace under the same number: %q, want db", ev.Runtime.ContainerName)
	}
}

func TestSelectContainers(t *testing.T) {
	newEnv := func() (*Env, *bytes.Buffer) {
		var stderr bytes.Buffer
		return &Env{Stderr: &stderr}, &stderr
	}
	host, inWeb, inDB := &Event{}, &Event{Runtime: Runtime{RuntimeName: "docker", ContainerName: "web"}}, &Event{Runtime: Runtime{RuntimeName: "podman", ContainerName: "db"}}

	for _, s := range []Selection{{}, {Host: true}, {OnlyContainers: true, Host: true}} {
		env, _ := newEnv()
		var f Filter
		if err := SelectContainers(newFake(web, db), s, &f, env); err != nil || f.MntNsMode != MntNsAll || env.Accept != nil {
			t.Errorf("%+v: everything wanted, got mode %v, accept %v, %v", s, f.MntNsMode, env.Accept != nil, err)
		}
	}

	// ig's own namespace is the host's: skipped from the start, unless
	// the host is wanted.
	own, err := runtimes.MountNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sel             Selection
		pass, skip      []uint64
		host, web, inDB bool
	}{
		{Selection{Names: []string{"web"}}, []uint64{100}, []uint64{300, own}, false, true, false},
		{Selection{Names: []string{"web"}, Host: true}, []uint64{100}, []uint64{300}, true, true, false},
		{Selection{OnlyContainers: true}, []uint64{100, 300}, []uint64{own}, false, true, true},
	} {
		env, _ := newEnv()
		fake := newFake(web, db)
		var f Filter
		if err := SelectContainers(fake, tc.sel, &f, env); err != nil {
			t.Fatalf("%+v: %v", tc.sel, err)
		}
		if f.MntNsMode != MntNsVerdicts || !slices.Equal(f.Verdicts.Pass, tc.pass) || !slices.Equal(f.Verdicts.Skip, tc.skip) {
			t.Errorf("%+v: mode %v, verdicts %+v; want pass %v skip %v", tc.sel, f.MntNsMode, f.Verdicts, tc.pass, tc.skip)
		}
		if env.Accept(host) != tc.host || env.Accept(inWeb) != tc.web || env.Accept(inDB) != tc.inDB {
			t.Errorf("%+v: accepts host/web/db %v/%v/%v, want %v/%v/%v", tc.sel,
				env.Accept(host), env.Accept(inWeb), env.Accept(inDB), tc.host, tc.web, tc.inDB)
		}
		// Containers come and go: verdicts follow, in the kernel's terms.
		started := web
		started.Name, started.MountNsID = "web", 400
		for _, fn := range fake.onChange {
			fn([]runtimes.Container{started, {Name: "other", MountNsID: 500}}, []runtimes.Container{db})
		}
		u := <-f.NsSets
		if !slices.Contains(u.Pass, 400) || !slices.Equal(u.Forget, []uint64{300}) {
			t.Errorf("%+v: after web started again and db stopped: %+v", tc.sel, u)
		}
		if wantOther := len(tc.sel.Names) == 0; slices.Contains(u.Pass, 500) != wantOther || slices.Contains(u.Skip, 500) == wantOther {
			t.Errorf("%+v: a new container 'other': %+v", tc.sel, u)
		}
	}

	env, _ := newEnv()
	err = SelectContainers(newFake(web), Selection{Names: []string{"nope"}}, &Filter{}, env)
	if err == nil || !strings.Contains(err.Error(), `no running container named "nope" in docker, podman`) {
		t.Errorf("unknown name: %v", err)
	}
	env, stderr := newEnv()
	if err := SelectContainers(newFake(), Selection{OnlyContainers: true}, &Filter{}, env); err != nil || !strings.Contains(stderr.String(), "no container is running") {
		t.Errorf("--containers with none running: %v, said %q", err, stderr.String())
	}
}

// TestNetVerdicts: under -c, the kernel passes the network namespaces of
// the wanted containers, shared ones too, and skips the others' and the
// host's; NetContainer decides the same for what the kernel lets by.
func TestNetVerdicts(t *testing.T) {
	hostNet, err := runtimes.NetworkNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	side := runtimes.Container{Runtime: "docker", ID: "jkl", Name: "side", MountNsID: 400, NetNsID: 1100} // on web's network
	hostNetCtr := runtimes.Container{Runtime: "docker", ID: "mno", Name: "hn", MountNsID: 500, NetNsID: hostNet}
	fake := newFake(web, db, side, hostNetCtr)
	env := &Env{Stderr: &bytes.Buffer{}, LookupNet: fake.LookupNet}
	var f Filter
	if err := SelectContainers(fake, Selection{Names: []string{"web", "hn"}}, &f, env); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Verdicts.NetPass, []uint64{1100}) || !slices.Equal(f.Verdicts.NetSkip, []uint64{1300, hostNet}) {
		t.Errorf("network verdicts %+v, want pass [1100] skip [1300 %d]", f.Verdicts, hostNet)
	}
	for ns, want := range map[uint64]struct {
		name     string
		accepted bool
	}{1100: {"side,web", true}, 1300: {"db", false}, hostNet: {"", false}, 9999: {"", false}} {
		rt, _, accepted, settled := env.NetContainer(ns)
		if rt.ContainerName != want.name || accepted != want.accepted || !settled {
			t.Errorf("netns %d: %q accepted %v settled %v, want %q %v", ns, rt.ContainerName, accepted, settled, want.name, want.accepted)
		}
	}
	env.Stderr = &bytes.Buffer{}
	env.WarnHostNetwork()
	if got := env.Stderr.(*bytes.Buffer).String(); !strings.Contains(got, "hn on the host's network") {
		t.Errorf("no warning about the host-network container: %q", got)
	}

	// web stops: side keeps the namespace, which is not wanted any more;
	// side stops: it is forgotten. A new wanted container passes.
	for _, fn := range fake.onChange {
		fn(nil, []runtimes.Container{web})
	}
	if u := <-f.NsSets; !slices.Equal(u.NetSkip, []uint64{1100}) || len(u.NetPass)+len(u.NetForget) != 0 {
		t.Errorf("web stopped: %+v", u)
	}
	again := web
	again.NetNsID = 1400
	for _, fn := range fake.onChange {
		fn([]runtimes.Container{again}, []runtimes.Container{side})
	}
	if u := <-f.NsSets; !slices.Equal(u.NetForget, []uint64{1100}) || !slices.Equal(u.NetPass, []uint64{1400}) {
		t.Errorf("side stopped, web again: %+v", u)
	}

	// --host: the host's namespace passes, and no selection at all
	// accepts everything.
	env = &Env{Stderr: &bytes.Buffer{}, LookupNet: fake.LookupNet}
	f = Filter{}
	if err := SelectContainers(fake, Selection{Names: []string{"db"}, Host: true}, &f, env); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.Verdicts.NetSkip, hostNet) {
		t.Errorf("--host: host's network namespace skipped: %+v", f.Verdicts)
	}
	if _, _, accepted, _ := env.NetContainer(hostNet); !accepted {
		t.Errorf("--host: host's traffic not accepted")
	}
	if _, _, accepted, _ := (&Env{LookupNet: fake.LookupNet}).NetContainer(1300); !accepted {
		t.Errorf("no selection: db's traffic not accepted")
	}
}

func TestNetAttribution(t *testing.T) {
	sandbox := runtimes.Container{Runtime: "cri-o", ID: "s", Sandbox: true, PodName: "p", PodNamespace: "ns", NetNsID: 1200}
	sidecar := runtimes.Container{Runtime: "cri-o", ID: "x", Name: "proxy", PodName: "p", PodNamespace: "ns", NetNsID: 1200}
	for _, tc := range []struct {
		cts []runtimes.Container
		rt  Runtime
		k8s K8s
	}{
		{nil, Runtime{}, K8s{}},
		{[]runtimes.Container{web}, Runtime{RuntimeName: "docker", ContainerID: "abc", ContainerName: "web", ContainerImageName: "nginx:1"}, K8s{}},
		{[]runtimes.Container{pod, sandbox}, Runtime{RuntimeName: "cri-o", ContainerID: "def", ContainerName: "app", ContainerImageName: "app:2"}, K8s{Namespace: "ns", PodName: "p", ContainerName: "app"}},
		{[]runtimes.Container{sandbox, pod, sidecar}, Runtime{RuntimeName: "cri-o", ContainerName: "app,proxy"}, K8s{Namespace: "ns", PodName: "p"}},
		{[]runtimes.Container{sandbox}, Runtime{RuntimeName: "cri-o"}, K8s{Namespace: "ns", PodName: "p"}},
	} {
		var ptrs []*runtimes.Container
		for i := range tc.cts {
			ptrs = append(ptrs, &tc.cts[i])
		}
		if rt, k8s := NetAttribution(ptrs); rt != tc.rt || k8s != tc.k8s {
			t.Errorf("%d containers: %+v %+v, want %+v %+v", len(tc.cts), rt, k8s, tc.rt, tc.k8s)
		}
	}
}
