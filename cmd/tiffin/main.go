// Command tiffin is the tiffin food-delivery platform: one binary that runs every service
// (dev, serve), migrates the store, issues dev tokens, drives a server with the city simulator,
// lists and redrives dead letters, and benchmarks it. Every flag can also be set from a TIFFIN_* environment variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	Log logFlags `embed:"" prefix:"log-"`

	Dev     devCmd     `cmd:"" help:"Run everything in one process with an embedded NATS, SQLite and the city simulator."`
	Serve   serveCmd   `cmd:"" help:"Run chosen services against external PostgreSQL and NATS."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations and exit."`
	Token   tokenCmd   `cmd:"" help:"Print a signed bearer token for a role and subject (dev key pair)."`
	Account accountCmd `cmd:"" help:"Add or disable local accounts (ops and restaurant staff) in the store."`
	Sim     simCmd     `cmd:"" help:"Drive a running tiffin server through its public API as a whole city."`
	DLQ     dlqCmd     `cmd:"" name:"dlq" help:"List, show and redrive dead letters, through a running server (--url) or on the NATS store."`
	Bench   benchCmd   `cmd:"" help:"Benchmarks."`
	Fake    fakeCmd    `cmd:"" help:"Fakes of outside partners, for trying tiffin and testing it: a parcel carrier."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// options are the parser's settings: its name, and TIFFIN_<FLAG> environment variables for
// every flag that doesn't name its own.
func options() []kong.Option {
	return []kong.Option{
		kong.Name("tiffin"),
		kong.Description("tiffin: an open-source food-delivery platform backend."),
		kong.DefaultEnvars("TIFFIN"),
		rateLimitVars(),
	}
}

func main() {
	var c cli
	parser, err := kong.New(&c, options()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiffin:", err)
		os.Exit(1)
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		usageError(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.BindTo(os.Stdout, (*io.Writer)(nil))
	kctx.Bind(&c.Log)
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "tiffin:", err)
		os.Exit(1)
	}
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println("tiffin", version)
	return nil
}

// usageError prints what is wrong with a command line in one line, and where the usage is.
func usageError(w io.Writer, err error) {
	fmt.Fprintln(w, "tiffin:", err)
	cmd := []string{"tiffin"}
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		for _, f := range strings.Fields(pe.Context.Command()) {
			if !strings.HasPrefix(f, "<") {
				cmd = append(cmd, f)
			}
		}
	}
	fmt.Fprintf(w, "Run '%s --help' for usage.\n", strings.Join(cmd, " "))
}
