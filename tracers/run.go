package tracers

import (
	"context"

	"github.com/cilium/ebpf"
)

// RunStream is the whole life of a streaming gadget: load spec with the
// gadget's constants, attach every program, print events until ctx ends,
// and detach everything.
func RunStream[T any, PT eventPtr[T]](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s StreamSpec[T]) error {
	p, _, done, err := start(ctx, env, spec, consts, nil)
	if err != nil {
		return err // an AttachError: the next variant may need the kernel types
	}
	defer done()
	return Stream[T, PT](ctx, env, p, s)
}

// start is how every runner begins: load spec with the gadget's constants,
// keep the kernel's container filter current while ctx lasts (following
// is ended by done, and is ctx for work that lasts as long), let before
// set what Attach needs, attach, and let the kernel types go. done
// detaches and unloads everything. An AttachError leaves nothing loaded.
func start(ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, before func(*Program)) (p *Program, following context.Context, done func(), err error) {
	p, err = Load(spec, env, consts)
	if err != nil {
		return nil, nil, nil, err
	}
	if seed := p.Coll.Programs[seedOwners]; seed != nil {
		// Before attaching: sockets opened from now on are recorded
		// by the gadget's own programs. Run once, it goes.
		if _, err := p.RunIterator(seedOwners); err != nil {
			env.Logf("sockets already open get no process: %v", err)
		}
		seed.Close()
		delete(p.Coll.Programs, seedOwners)
		delete(p.spec.Programs, seedOwners)
	}
	following, stopFollowing := context.WithCancel(ctx)
	go p.FollowNs(following, env)
	done = func() {
		stopFollowing()
		p.Close()
	}
	if before != nil {
		before(p)
	}
	if err := p.Attach(); err != nil {
		done()
		return nil, nil, nil, err
	}
	env.Attached()
	env.LoadedAll()
	return p, following, done, nil
}

// seedOwners is the iterator (IG_SOCK_OWNER_SEED of bpf/sock.h) that gives
// the TCP sockets open before ig started their processes.
const seedOwners = "seed_owners"
