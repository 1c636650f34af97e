package tracers

import (
	"context"
	"errors"
	"slices"
)

// RunVariants runs g with the variant v chose and, when that one's programs
// do not attach (AttachError) and ig is not stopping, with each of v's
// fallbacks in turn; -v says why it moves on. A gadget fails to attach
// before it prints anything, so a try leaves no output behind.
func RunVariants(ctx context.Context, g *Gadget, env *Env, r *Requirements, v Verdict) error {
	tries := append([]Verdict{v}, v.Fallbacks...)
	for i, try := range tries {
		if i > 0 {
			env.Logf("%s: using the %s variant", g.FullName(), try.Variant)
		}
		env.useVariant(g, r, try)
		err := g.Run(ctx, env)
		var attach *AttachError
		if !errors.As(err, &attach) || i == len(tries)-1 || ctx.Err() != nil {
			return err
		}
		env.Logf("%s: the %s variant did not attach (%v); trying the %s variant", g.FullName(), try.Variant, err, tries[i+1].Variant)
	}
	return nil
}

// ForArgs is v less the variants g says cannot serve args (Gadget.Unfit):
// the first that can becomes the chosen one, and those passed over say why;
// when none can, the verdict is a refusal naming each reason.
func (v Verdict) ForArgs(g *Gadget, args Args) Verdict {
	if g.Unfit == nil || !v.OK {
		return v
	}
	var passed []string
	tries := append([]Verdict{v}, v.Fallbacks...)
	for i, try := range tries {
		if why := g.Unfit(args, try.Variant); why != "" {
			passed = append(passed, try.Variant+": "+why)
			continue
		}
		out := try
		out.PassedOver = append(slices.Clone(v.PassedOver), passed...)
		out.Fallbacks = nil
		for _, later := range tries[i+1:] {
			if g.Unfit(args, later.Variant) == "" {
				out.Fallbacks = append(out.Fallbacks, later)
			}
		}
		return out
	}
	return Verdict{Missing: append(append(slices.Clone(v.PassedOver), passed...), v.LaterMissing...)}
}

// useVariant sets what Run and Load read of the variant chosen.
func (e *Env) useVariant(g *Gadget, r *Requirements, v Verdict) {
	e.Variant, e.Skipped, e.VariantReq = v.Variant, v.Skipped, nil
	for i := range r.Variants {
		if r.Variants[i].Name == v.Variant && !r.Variants[i].NoBPF {
			e.VariantReq = &r.Variants[i]
		}
	}
	if e.VariantReq == nil && v.Variant != "" {
		e.Logf("%s: the %s variant loads no eBPF of ig's", g.FullName(), v.Variant)
	}
	for _, tp := range v.Skipped {
		e.Logf("%s: skipped tracepoint %s, which this kernel lacks (optional)", g.FullName(), tp)
	}
}
