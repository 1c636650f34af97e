package tracers

import (
	"context"

	"github.com/cilium/ebpf"
)

// RunStream is the whole life of a streaming gadget: load spec with the
// gadget's constants, attach every program, print events until ctx ends,
// and detach everything.
func RunStream[T any, PT eventPtr[T]](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s StreamSpec[T]) error {
	p, err := Load(spec, env, consts)
	if err != nil {
		return err
	}
	defer p.Close()
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	go p.FollowMntNs(followCtx, env)
	if err := p.Attach(); err != nil {
		return err // an AttachError: the next variant may need the kernel types
	}
	env.Attached()
	env.LoadedAll()
	return Stream[T, PT](ctx, env, p, s)
}
