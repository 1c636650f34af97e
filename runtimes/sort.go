package runtimes

import "sort"

// sortContainers orders by runtime, then name, then id.
func sortContainers(cs []Container) {
	sort.Slice(cs, func(i, j int) bool { return lessContainer(&cs[i], &cs[j]) })
}

func sortContainerPtrs(cs []*Container) {
	sort.Slice(cs, func(i, j int) bool { return lessContainer(cs[i], cs[j]) })
}

func lessContainer(a, b *Container) bool {
	if a.Runtime != b.Runtime {
		return a.Runtime < b.Runtime
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.ID < b.ID
}
