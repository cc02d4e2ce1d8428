package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/store"
)

// runUsers runs `vitalwatch users ...` and `vitalwatch tokens ...`, on the same store as the
// registry commands, so that the first admin and their token can be made before the server
// has ever run. A password is read from stdin (--password-stdin) or made and printed once; a
// token is printed once. Only their hashes are kept.
func runUsers(ctx context.Context, cfg *Config, group string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: no subcommand given; see vitalwatch help", group)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer st.Close()
	ctx = audit.WithActor(ctx, cliActor())
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet(group+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch group + " " + sub {
	case "users add":
		var u access.User
		var role, teams, sites string
		fs.StringVar(&u.Username, "username", "", "the name to sign in with: 1-64 characters of a-z 0-9 . _ - (required)")
		fs.StringVar(&role, "role", "", "doctor, fleet_manager or admin (required)")
		fs.StringVar(&teams, "teams", "", "a doctor's teams, separated by commas")
		fs.StringVar(&sites, "sites", "", "a fleet manager's sites, separated by commas")
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; otherwise one is made and printed once")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("users add: unexpected argument %q", fs.Arg(0))
		}
		u.Role, u.Teams, u.Sites = access.Role(role), splitList(teams), splitList(sites)
		password, made, err := newPassword(*fromStdin, stdin)
		if err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		if u.PasswordHash, err = access.HashPassword(password); err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		if u, err = st.CreateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (%s) created as %s.\n", u.Username, u.ID, u.Role)
		if made {
			fmt.Fprintf(stdout, "Their password (shown once, only its hash is kept):\n%s\n", password)
		}
		return nil
	case "users passwd":
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; otherwise one is made and printed once")
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("users passwd: give one username (flags before it)")
		}
		u, err := st.GetUserByUsername(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		password, made, err := newPassword(*fromStdin, stdin)
		if err != nil {
			return fmt.Errorf("users passwd: %w", err)
		}
		hash, err := access.HashPassword(password)
		if err != nil {
			return fmt.Errorf("users passwd: %w", err)
		}
		if err := st.SetUserPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new password for %s; their sessions have ended.\n", u.Username)
		if made {
			fmt.Fprintf(stdout, "The password (shown once, only its hash is kept):\n%s\n", password)
		}
		return nil
	case "users disable", "users enable":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return fmt.Errorf("users %s: give one username", sub)
		}
		u, err := st.GetUserByUsername(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		u.Disabled = sub == "disable"
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s is %sd\n", u.Username, sub)
		return nil
	case "users list":
		role := fs.String("role", "", "only users with this role")
		if err := fs.Parse(args); err != nil {
			return err
		}
		w := csv.NewWriter(stdout)
		w.Write([]string{"id", "username", "role", "teams", "sites", "disabled", "has_password"})
		after := ""
		for {
			page, err := st.ListUsers(ctx, access.UserFilter{Role: access.Role(*role), After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, u := range page {
				w.Write([]string{u.ID, u.Username, string(u.Role), strings.Join(u.Teams, ";"), strings.Join(u.Sites, ";"),
					strconv.FormatBool(u.Disabled), strconv.FormatBool(u.PasswordHash != "")})
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		w.Flush()
		return w.Error()
	case "tokens create":
		username := fs.String("user", "", "the username the token acts as (required)")
		name := fs.String("name", "", "what the token is for, e.g. hospital-sync (required)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *username == "" || *name == "" {
			return errors.New("tokens create: give --user and --name")
		}
		u, err := st.GetUserByUsername(ctx, *username)
		if err != nil {
			return err
		}
		token, id, err := st.CreateToken(ctx, u.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s created for %s. Send it as Authorization: Bearer TOKEN (shown once, only its hash is kept):\n%s\n",
			id, u.Username, token)
		return nil
	case "tokens list":
		username := fs.String("user", "", "the user whose tokens to list (required)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		u, err := st.GetUserByUsername(ctx, *username)
		if err != nil {
			return err
		}
		tokens, err := st.ListTokens(ctx, u.ID)
		if err != nil {
			return err
		}
		w := csv.NewWriter(stdout)
		w.Write([]string{"id", "name", "created", "last_used", "revoked"})
		for _, t := range tokens {
			w.Write([]string{t.ID, t.Name, rfc3339(t.Created), rfc3339(t.LastUsed), rfc3339(t.Revoked)})
		}
		w.Flush()
		return w.Error()
	case "tokens revoke":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("tokens revoke: give one token id")
		}
		if err := st.RevokeToken(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s revoked\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown command %q; see vitalwatch help", group+" "+sub)
}

// newPassword returns the first line of stdin, or else a new random password (made = true).
func newPassword(fromStdin bool, stdin io.Reader) (password string, made bool, err error) {
	if !fromStdin {
		return access.NewPassword(), true, nil
	}
	if stdin == nil {
		return "", false, errors.New("--password-stdin: no standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, access.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("--password-stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// rfc3339 formats t, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
