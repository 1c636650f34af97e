package tracers

import "time"

// maxHold bounds how long an event waits for its container to be known
// (the collection usually settles a new namespace in a fifth of a second).
const maxHold = 2 * time.Second

// maxHeld bounds how many records wait at once: past it, the oldest goes
// out as it is, so a busy host cannot fill memory while a runtime is slow.
const maxHeld = 1 << 16

// heldEvents keeps, in arrival order, the ring-buffer records whose event
// came from a mount namespace not known yet (Env.Enrich said not settled),
// and every record behind them, so output keeps the kernel's order.
type heldEvents struct {
	raw   [][]byte
	since []time.Time
}

func (h *heldEvents) len() int { return len(h.raw) }

// push keeps a copy of raw, which the ring-buffer reader reuses.
func (h *heldEvents) push(raw []byte, now time.Time) {
	h.raw = append(h.raw, append([]byte(nil), raw...))
	h.since = append(h.since, now)
}

// release hands the held records, oldest first, to emit, which decodes and
// enriches one and says whether its container is settled. It stops at the
// first one that is not, unless that one waited maxHold, there are too
// many, or force (the gadget is stopping).
func (h *heldEvents) release(now time.Time, force bool, emit func(raw []byte, last bool) bool) {
	n := 0
	for n < len(h.raw) {
		last := force || len(h.raw)-n > maxHeld || now.Sub(h.since[n]) >= maxHold
		if !emit(h.raw[n], last) {
			break
		}
		h.raw[n] = nil
		n++
	}
	h.raw = h.raw[n:]
	h.since = h.since[n:]
	if len(h.raw) == 0 {
		h.raw, h.since = nil, nil // let the backing arrays go
	}
}
