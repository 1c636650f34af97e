package tracers

import (
	"slices"
	"testing"
	"time"
)

func TestHeldEventsKeepOrderAndWaitBounded(t *testing.T) {
	var h heldEvents
	t0 := time.Now()
	buf := []byte("a")
	h.push(buf, t0)
	buf[0] = 'x' // the reader reuses its buffer: held records are copies
	h.push([]byte("b"), t0)
	h.push([]byte("c"), t0)

	var out []string
	settled := map[string]bool{"a": true, "c": true} // b's container is not known yet
	emit := func(raw []byte, last bool) bool {
		if !settled[string(raw)] && !last {
			return false
		}
		out = append(out, string(raw))
		return true
	}
	h.release(t0.Add(time.Millisecond), false, emit)
	if !slices.Equal(out, []string{"a"}) || h.len() != 2 {
		t.Fatalf("released %q, %d held; want a, then b holding c behind it", out, h.len())
	}
	h.release(t0.Add(maxHold), false, emit)
	if !slices.Equal(out, []string{"a", "b", "c"}) || h.len() != 0 {
		t.Fatalf("after maxHold: released %q, %d held", out, h.len())
	}

	h.push([]byte("b"), t0)
	h.release(t0, true, emit)
	if h.len() != 0 || out[len(out)-1] != "b" {
		t.Errorf("force left %d held", h.len())
	}
}
