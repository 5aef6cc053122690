// Command earshot is the earshot daemon and its command-line tools.
//
//	earshot serve [--config FILE] [--listen ADDR] [--dev]
//	earshot validate FILE
//	earshot token [--config FILE] --sub ID [--name N] [--role R] [--sessions a,b] [--ttl D]
//	earshot stream --url URL --token T --session S FILE
//	earshot version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// exitError carries a process exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the daemon", runServe},
		{"validate", "check a configuration file and print its diagnostics", runValidate},
		{"token", "mint a token the configuration accepts (its HMAC secret, JWT_SECRET by default)", runToken},
		{"stream", "stream an audio file to a session and print transcripts and suggestions", runStream},
		{"version", "print the version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "earshot — a real-time media pipeline daemon for interview assistants")
	fmt.Fprintln(w, "\nUsage: earshot <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'earshot <command> --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(stderr, "earshot:", ee.err)
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "earshot:", err)
		return 1
	}
	fmt.Fprintf(stderr, "earshot: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newFlagSet returns a flag set that prints its usage to stderr and reports errors
// instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: earshot %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a usage error into exit code 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2}
	}
	return nil
}
