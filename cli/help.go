package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// helpCommand is `ig help [COMMAND...]`: ig's help, a category's, or a
// gadget's (`ig help trace open`), the same text as `ig COMMAND... --help`.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:         "help",
		Aliases:      []string{"h"},
		Usage:        "show the help of ig, of a command, or of a gadget (ig help trace open)",
		ArgsUsage:    "[COMMAND [GADGET]]",
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			path := c.Args().Slice()
			cmds := c.App.Commands
			for i, name := range path {
				cmd := findCommand(cmds, name)
				if cmd == nil {
					return unknownHelpTopic(path[:i], name, cmds)
				}
				cmds = cmd.Subcommands
			}
			// Run `ig PATH... --help`, so that both forms print the same.
			args := append(append([]string{c.App.Name}, path...), "--help")
			return c.App.RunContext(c.Context, args)
		},
	}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// unknownHelpTopic says what `ig help` could have been asked, in the words
// of the errors of `ig NAME` and `ig CATEGORY NAME`.
func unknownHelpTopic(parents []string, name string, cmds []*cli.Command) error {
	names := strings.Join(commandNames(cmds), ", ")
	switch {
	case len(parents) == 0:
		return fmt.Errorf("unknown command %q; commands: %s", name, names)
	case len(cmds) == 0:
		return fmt.Errorf("'ig %s' has no subcommand %q", strings.Join(parents, " "), name)
	default:
		p := strings.Join(parents, " ")
		return fmt.Errorf("unknown gadget '%s %s'; %s gadgets: %s", p, name, p, names)
	}
}
