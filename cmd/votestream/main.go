// Command votestream is the one binary of votestream: one subcommand per role, and `up`,
// which runs every built role in one process for a single machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata" // Asia/Bangkok on any host, distroless images included
)

// command is one subcommand. Flags are declared on fs; every flag can also be set by the
// environment variable VOTESTREAM_<FLAG> (dashes as underscores), the flag winning.
type command struct {
	name     string
	summary  string
	usage    string // argument synopsis after the name
	issue    int    // when not built yet: the issue that builds it, if any
	notBuilt bool   // the role does not exist yet: it says so and exits non-zero
	setup    func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// exitCoder is an error that names its own exit status (verify's 3 and 4).
type exitCoder interface{ ExitCode() int }

// errUsage marks an error in how the command was called: exit code 2, not 1.
var errUsage = errors.New("usage")

// notBuilt is the setup of a role whose issue is still open: it refuses to pretend.
func notBuilt(issue int) func(*flag.FlagSet) func(context.Context, []string) error {
	return func(*flag.FlagSet) func(context.Context, []string) error {
		return func(context.Context, []string) error {
			if issue == 0 {
				return errors.New("not built yet: no issue builds this role so far")
			}
			return fmt.Errorf("not built yet (issue %d): this role does not exist in this version", issue)
		}
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "votestream: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("votestream "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range args[1:] {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout) // asked-for help is output, not an error
		}
	}
	runFn := c.setup(fs)
	var lf logFlags
	lf.register(fs)
	var mf memoryFlags
	mf.register(fs, c.name)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: votestream %s [flags] %s\n\n%s\n", c.name, c.usage, c.summary)
		if c.notBuilt {
			fmt.Fprintf(out, "\nNot built yet.\n")
		}
		if hasFlags(fs) {
			fmt.Fprintf(out, "\nFlags (each also read from VOTESTREAM_<FLAG>, dashes as underscores):\n")
			fs.PrintDefaults()
		}
	}
	// Leading words name a sub-action (`simulate country --out DIR`); flags may follow them.
	rest := args[1:]
	var lead []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		lead, rest = append(lead, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := applyEnv(fs); err != nil {
		fmt.Fprintf(stderr, "votestream %s: %v\n", c.name, err)
		return 2
	}
	if err := mf.apply(fs); err != nil {
		fmt.Fprintf(stderr, "votestream %s: %v\n", c.name, err)
		return 2
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "votestream %s: %v\n", c.name, err)
		return 2
	}
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runFn(ctx, append(lead, fs.Args()...)); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return 0 // stopped on request
		}
		fmt.Fprintf(stderr, "votestream %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		var ec exitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// envName maps a flag name onto its environment variable.
func envName(flagName string) string {
	return "VOTESTREAM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its environment variable.
func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return err
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "votestream: count an election in public, live.\n\nUsage: votestream <command> [flags]\n\nCommands:\n")
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		c := commands[n]
		note := ""
		if c.notBuilt {
			note = " (not built yet)"
		}
		fmt.Fprintf(w, "  %-12s %s%s\n", n, c.summary, note)
	}
	fmt.Fprintf(w, "\nRun `votestream <command> --help` for a command's flags.\n")
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("votestream", flag.ContinueOnError) }

// noArgs refuses positional arguments to a command that takes none.
func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
	}
	return nil
}
