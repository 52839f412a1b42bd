// Command dledgerlab is DLedger Lab's one binary: real broker nodes, the
// tools that drive them, the playground server and the benchmark.
//
//	dledgerlab <command> [flags]
//
// Each command lives in its own file (cmd_*.go) and registers itself in
// init with register; main only dispatches. To add a command, add a file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for `dledgerlab help`
	// run gets the arguments after the command name. A *usageError (or
	// flag.ErrHelp) exits with status 2, any other error with 1.
	run func(args []string) error
}

var commands []command

// register adds a command; cmd_*.go call it from init.
func register(c command) { commands = append(commands, c) }

// usageError is a bad flag or argument: the message names it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run([]string{args[1], "--help"})
		}
		printHelp()
		return 0
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(os.Stderr, "dledgerlab: unknown command %q\n\n", args[0])
		printHelp()
		return 2
	}
	err := commands[i].run(args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "dledgerlab %s: %v\nRun 'dledgerlab %s --help' for usage.\n", args[0], err, args[0])
		return 2
	default:
		fmt.Fprintf(os.Stderr, "dledgerlab %s: %v\n", args[0], err)
		return 1
	}
}

func printHelp() {
	fmt.Fprintln(os.Stderr, "DLedger Lab: Raft-replicated RocketMQ brokers you can watch, break and repair.")
	fmt.Fprintln(os.Stderr, "\nUsage: dledgerlab <command> [flags]\n\nCommands:")
	sorted := slices.Clone(commands)
	slices.SortFunc(sorted, func(a, b command) int { return strings.Compare(a.name, b.name) })
	for _, c := range sorted {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'dledgerlab <command> --help' for a command's flags.")
}

// newFlags returns a flag set whose usage text starts with the command's
// synopsis and description. Parse errors name the bad flag.
func newFlags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dledgerlab %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; a flag error has already been printed with the usage,
// so it becomes a short usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}
