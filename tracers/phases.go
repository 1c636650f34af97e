package tracers

import (
	"fmt"
	"strings"
	"time"
)

// Phases times ig's start-up, step by step, for -v: a user who finds ig slow
// to show its first event sees where the time went.
type Phases struct {
	start, last time.Time
	steps       []string
}

// NewPhases starts the clock.
func NewPhases() *Phases {
	now := time.Now()
	return &Phases{start: now, last: now}
}

// Mark ends the step called name.
func (p *Phases) Mark(name string) {
	if p == nil {
		return
	}
	now := time.Now()
	p.steps = append(p.steps, fmt.Sprintf("%s %s", name, ms(now.Sub(p.last))))
	p.last = now
}

// String is the total so far and each step's share.
func (p *Phases) String() string {
	return fmt.Sprintf("%s (%s)", ms(p.last.Sub(p.start)), strings.Join(p.steps, ", "))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// Attached ends the last start-up step and says, under -v, how long start-up took.
func (e *Env) Attached() {
	if e.Phases == nil {
		return
	}
	e.Phases.Mark("load and attach")
	e.Logf("attached after %s", e.Phases)
}
