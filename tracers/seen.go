package tracers

import (
	"context"
	"sync"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

// Seen is what a summary gadget (advise) knows of the containers it met
// while recording, by namespace (mount or network): a container may be
// gone, and the runtimes no longer know it, when the report is written.
type Seen[V any] struct {
	mu sync.Mutex
	by map[uint64]V
}

// Remember makes a Seen that adds, with add, the running containers and
// each that starts while the gadget records.
func Remember[V any](env *Env, add func(s *Seen[V], cts []runtimes.Container)) *Seen[V] {
	s := &Seen[V]{by: map[uint64]V{}}
	if env.Containers != nil {
		add(s, env.Containers())
	}
	if env.OnContainers != nil {
		env.OnContainers(func(added, _ []runtimes.Container) { add(s, added) })
	}
	return s
}

// Update sets what is known of ns to f of what was (known false: nothing).
func (s *Seen[V]) Update(ns uint64, f func(v V, known bool) V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.by[ns]
	s.by[ns] = f(v, ok)
}

// Get is what is known of ns.
func (s *Seen[V]) Get(ns uint64) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.by[ns]
	return v, ok
}

// Learn, every 100 ms until ctx ends, calls learn for each namespace
// recorded (the kernel's, listed by each) that s does not know yet, while
// the runtimes can still be asked: a container that started and stopped
// between two news of the collection is named too.
func (s *Seen[V]) Learn(ctx context.Context, recorded func(yield func(ns uint64)), learn func(ns uint64)) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		recorded(func(ns uint64) {
			if _, ok := s.Get(ns); !ok {
				learn(ns)
			}
		})
	}
}
