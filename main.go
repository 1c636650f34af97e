// ig traces a Linux host and its containers with eBPF: one static binary,
// no daemon. The command line is in cli/, the gadgets in tracers/.
package main

import "github.com/ig-tracer/ig/cli"

func main() { cli.Main() }
