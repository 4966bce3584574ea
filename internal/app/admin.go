package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore"
)

// AdminUsage describes the operator commands.
const AdminUsage = `Usage:
  berth admin account create [--id <12 digits>] [storage flags]   create an account and print its root key
  berth admin account list [storage flags]                        list accounts
  berth admin account delete --id <12 digits> [storage flags]     delete an account and everything in it

  berth admin events …                                          event sinks and dead letters (berth admin events)
  berth admin jobs [runs|run --job <name>] [storage flags]      background jobs: state, runs, run now (berth admin jobs -h)
  berth admin audit lookup|export|verify …                      query, export and verify the audit trail (berth admin audit)

Storage flags are those of berth serve (--database, --data-dir, --config, ...). The commands work
while the server runs.
`

// Admin runs an operator command (args after "admin").
func Admin(ctx context.Context, args []string, d Deps) error {
	if len(args) > 0 && args[0] == "events" {
		return adminEvents(ctx, args[1:], d)
	}
	if len(args) > 0 && args[0] == "jobs" {
		return adminJobs(ctx, args[1:], d)
	}
	if len(args) > 0 && args[0] == "audit" {
		return adminAudit(ctx, args[1:], d)
	}
	if len(args) < 2 || args[0] != "account" {
		return fmt.Errorf("unknown admin command\n\n%s", AdminUsage)
	}
	verb := args[1]
	fs := flag.NewFlagSet("berth admin account "+verb, flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	id := fs.String("id", "", "account id (12 digits)")
	cfg, err := config.Load(fs, args[2:], d.Getenv)
	if err != nil {
		return err
	}
	meta, err := openAdminMeta(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer meta.Close()
	switch verb {
	case "create":
		return createAccount(ctx, cfg, meta, *id, d)
	case "list":
		accts, err := meta.ListAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range accts {
			fmt.Fprintf(d.Stdout, "%s\t%s\n", a.ID, a.CreatedAt.Format(time.RFC3339))
		}
		return nil
	case "delete":
		if *id == "" {
			return errors.New("--id is required")
		}
		if *id == cfg.AccountID {
			return fmt.Errorf("account %s is this deployment's default account (--account-id); it cannot be deleted", *id)
		}
		if err := meta.DeleteAccount(ctx, *id); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return fmt.Errorf("account %s does not exist", *id)
			}
			return err
		}
		fmt.Fprintf(d.Stdout, "deleted account %s\n", *id)
		return nil
	}
	return fmt.Errorf("unknown admin command %q\n\n%s", verb, AdminUsage)
}

// createAccount creates an account (with the given or a random id) and
// its root access key, and prints the key once.
func createAccount(ctx context.Context, cfg config.Config, meta metastore.Store, id string, d Deps) error {
	if id == "" {
		var err error
		if id, err = randomAccountID(); err != nil {
			return err
		}
	} else if !validAccountID(id) {
		return fmt.Errorf("--id %q: want exactly 12 digits", id)
	}
	sealer, err := openSealer(ctx, cfg, meta)
	if err != nil {
		return err
	}
	if err := meta.CreateAccount(ctx, metastore.Account{ID: id, CreatedAt: d.Clock()}); err != nil {
		if errors.Is(err, metastore.ErrAlreadyExists) {
			return fmt.Errorf("account %s already exists", id)
		}
		return err
	}
	keyID, secret, err := auth.GenerateAccessKey(rand.Reader)
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal([]byte(secret), []byte(keyID))
	if err != nil {
		return err
	}
	if err := meta.CreateAccessKey(ctx, metastore.AccessKey{ID: keyID, AccountID: id, SecretCiphertext: sealed,
		Active: true, CreatedAt: d.Clock()}); err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "account_id            = %s\naws_access_key_id     = %s\naws_secret_access_key = %s\n", id, keyID, secret)
	return nil
}

func randomAccountID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%012d", n.Int64()), nil
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
