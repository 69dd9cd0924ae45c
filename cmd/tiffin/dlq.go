package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/dlq"
)

type dlqCmd struct {
	List    dlqListCmd    `cmd:"" help:"List dead letters, oldest first."`
	Show    dlqShowCmd    `cmd:"" help:"Show one dead letter with its payload and headers."`
	Redrive dlqRedriveCmd `cmd:"" help:"Publish dead letters again, each for the consumer that gave up on it, then remove them."`
}

// dlqTarget says where the dead letters are: behind a running server, or in the NATS store
// itself (the data directory's embedded one, or an external server).
type dlqTarget struct {
	URL   string `placeholder:"URL" help:"Base URL of a running tiffin server, e.g. http://127.0.0.1:8080. Without it the NATS store is opened directly: the data directory's embedded one (only while no server uses it) or --nats."`
	Token string `help:"Ops bearer token for --url (default: minted from the data directory's dev key, as tiffin token does)."`
	Data  string `default:"data" help:"Data directory: the dev signing key, and the embedded NATS store when neither --url nor --nats is given."`
	NATS  string `name:"nats" help:"External NATS URL to reach the dead letters directly."`
	JSON  bool   `name:"json" help:"Print JSON instead of text."`
}

// deadLetters is what the dlq commands need: dlq.Client through a server, or dlq.Service on
// the store.
type deadLetters interface {
	List(ctx context.Context, cursor string, limit int) (dlq.Page, error)
	Show(ctx context.Context, id string) (dlq.Detail, error)
	Redrive(ctx context.Context, ids []string) (dlq.RedriveResult, error)
	RedriveAll(ctx context.Context) (dlq.RedriveResult, error)
}

// open reaches the dead letters; close releases what it opened.
func (t dlqTarget) open(ctx context.Context) (_ deadLetters, closeFn func(), err error) {
	if t.URL != "" {
		token := t.Token
		if token == "" {
			keys, err := devKey(t.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%w (or give an ops token with --token)", err)
			}
			if token, err = keys.Issue(auth.Principal{Subject: "tiffin-dlq", Role: auth.Ops}, 10*time.Minute); err != nil {
				return nil, nil, err
			}
		}
		return &dlq.Client{BaseURL: t.URL, Token: token}, func() {}, nil
	}
	store := filepath.Join(t.Data, "nats")
	if t.NATS == "" {
		if _, err := os.Stat(filepath.Join(store, "jetstream")); err != nil {
			return nil, nil, fmt.Errorf("no embedded NATS store in %s (is --data right? or give --url or --nats)", store)
		}
	}
	b, err := bus.Open(ctx, bus.Config{URL: t.NATS, StoreDir: store})
	if errors.Is(err, bus.ErrStoreLocked) {
		return nil, nil, fmt.Errorf("%w\nA tiffin server is probably running on this data directory: go through it with --url http://HOST:PORT (it uses --token, or a token minted from --data)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return dlq.New(b, nil), b.Close, nil
}

type dlqListCmd struct {
	dlqTarget
	Cursor string `help:"List after this dead letter ID (the previous page's next cursor)."`
	Limit  int    `default:"50" help:"Dead letters per page (at most 500)."`
}

func (c *dlqListCmd) Run(ctx context.Context, out io.Writer) error {
	d, closeFn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	p, err := d.List(ctx, c.Cursor, c.Limit)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(out, p)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCONSUMER\tSUBJECT\tTRIES\tLAST FAILED\tREASON")
	for _, e := range p.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Consumer, e.Subject, e.Tries,
			e.LastFailedAt.UTC().Format(time.RFC3339), clip(e.Reason, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d listed, %d dead letters in all\n", len(p.Entries), p.Total)
	if p.NextCursor != "" {
		fmt.Fprintf(out, "next page: tiffin dlq list --cursor %s\n", p.NextCursor)
	}
	return nil
}

type dlqShowCmd struct {
	dlqTarget
	ID string `arg:"" help:"The dead letter's ID, e.g. bus-42."`
}

func (c *dlqShowCmd) Run(ctx context.Context, out io.Writer) error {
	d, closeFn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	e, err := d.Show(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(out, e)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	fields := [][2]string{
		{"id", e.ID}, {"source", e.Source}, {"consumer", e.Consumer}, {"subject", e.Subject},
		{"tries", fmt.Sprint(e.Tries)}, {"first failed", e.FirstFailedAt.UTC().Format(time.RFC3339Nano)},
		{"last failed", e.LastFailedAt.UTC().Format(time.RFC3339Nano)}, {"reason", e.Reason},
	}
	switch {
	case e.MsgID != "":
		fields = append(fields, [2]string{"msg id", e.MsgID})
	case e.Source == dlq.SourceBus:
		// Published without one (not by tiffin's relay: by hand, say).
		fields = append(fields, [2]string{"msg id", "none (published without a Nats-Msg-Id)"})
	}
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "headers:")
	for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
		fmt.Fprintf(out, "  %s: %s\n", k, e.Headers[k])
	}
	fmt.Fprintln(out, "payload:")
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(e.Payload), "  ", "  ") == nil {
		fmt.Fprintf(out, "  %s\n", pretty.String())
	} else {
		fmt.Fprintf(out, "  %s\n", e.Payload)
	}
	return nil
}

type dlqRedriveCmd struct {
	dlqTarget
	All bool     `help:"Redrive every dead letter."`
	IDs []string `arg:"" optional:"" name:"id" help:"Dead letter IDs, e.g. bus-42."`
}

func (c *dlqRedriveCmd) Run(ctx context.Context, out io.Writer) error {
	if c.All == (len(c.IDs) > 0) {
		return errors.New("give dead letter IDs or --all (one of them)")
	}
	d, closeFn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	var res dlq.RedriveResult
	if c.All {
		res, err = d.RedriveAll(ctx)
	} else {
		res, err = d.Redrive(ctx, c.IDs)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		if err := printJSON(out, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "redriven: %d\n", len(res.Redriven))
		if len(res.NotFound) > 0 {
			fmt.Fprintf(out, "not found (redriven already?): %s\n", strings.Join(res.NotFound, " "))
		}
		for _, f := range res.Failed {
			fmt.Fprintf(out, "failed: %s: %s\n", f.ID, f.Error)
		}
		fmt.Fprintf(out, "dead letters left: %d\n", res.Remaining)
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d dead letters could not be redriven; they stay", len(res.Failed))
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
