package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// accountCmd manages local accounts (ops and restaurant staff) in the store, as migrate does:
// against --db, or DATA/tiffin.db.
type accountCmd struct {
	Add     accountAddCmd     `cmd:"" help:"Add a local account; its password comes from TIFFIN_ACCOUNT_PASSWORD or, without it, the first line of stdin."`
	Disable accountDisableCmd `cmd:"" help:"Disable a local account: it can no longer log in, and its refresh tokens are revoked."`
}

// storeFlags name the store like migrate's.
type storeFlags struct {
	Data string `default:"data" help:"Data directory (for the default SQLite database)."`
	DB   string `help:"Database: a postgres:// URL or a SQLite path (default DATA/tiffin.db)."`
}

func (f storeFlags) open(ctx context.Context) (*store.DB, error) {
	dsn := f.DB
	if dsn == "" {
		dsn = f.Data + "/tiffin.db"
	}
	return store.Open(ctx, dsn)
}

// passwordEnv holds a new account's password; it is never a flag, so it stays out of shell
// histories and process listings.
const passwordEnv = "TIFFIN_ACCOUNT_PASSWORD"

type accountAddCmd struct {
	storeFlags
	Username string `required:"" help:"Username: lower-case letters, digits, '.', '_', '@' or '-', at most 64."`
	Role     string `required:"" enum:"ops,restaurant" help:"Role: ops or restaurant."`
	Subject  string `required:"" help:"The subject its tokens carry: the operator's ID, or the restaurant owner's ID."`
}

func (c *accountAddCmd) Run(ctx context.Context, out io.Writer) error {
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return fmt.Errorf("account add: %w", err)
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := account.Add(ctx, db, c.Username, auth.Role(c.Role), c.Subject, pw, account.Params{}, time.Now()); err != nil {
		return fmt.Errorf("account add: %w", err)
	}
	fmt.Fprintf(out, "added %s account %s (subject %s)\n", c.Role, c.Username, c.Subject)
	return nil
}

// readPassword is TIFFIN_ACCOUNT_PASSWORD, or the first line of stdin.
func readPassword(stdin io.Reader) (string, error) {
	if pw, ok := os.LookupEnv(passwordEnv); ok {
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("no password: set %s or write it on stdin", passwordEnv)
	}
	return pw, nil
}

type accountDisableCmd struct {
	storeFlags
	Username string `required:"" help:"The account to disable."`
}

func (c *accountDisableCmd) Run(ctx context.Context, out io.Writer) error {
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := account.Disable(ctx, db, c.Username, time.Now()); err != nil {
		return fmt.Errorf("account disable: %w", err)
	}
	fmt.Fprintf(out, "disabled account %s\n", c.Username)
	return nil
}
