package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// RootCredentialsFile is written once, in the data directory, when Berth
// generates the default account's root key.
const RootCredentialsFile = "root-credentials"

// rootKey is an access key supplied by the operator or generated.
type rootKey struct{ id, secret string }

// bootstrap makes sure the default account and a root access key exist.
// On first start it uses BERTH_ROOT_ACCESS_KEY_ID/SECRET when given, else
// generates a key, prints it once and writes it to
// <data-dir>/root-credentials (0600). Of nodes starting at once on one
// database, one generates the key; the others find it.
func (a *App) bootstrap(ctx context.Context, getenv func(string) string, out io.Writer) error {
	acct := a.cfg.AccountID
	if _, err := a.meta.GetAccount(ctx, acct); errors.Is(err, metastore.ErrNotFound) {
		if err := a.meta.CreateAccount(ctx, metastore.Account{ID: acct, CreatedAt: a.now()}); err != nil &&
			!errors.Is(err, metastore.ErrAlreadyExists) {
			return fmt.Errorf("create default account: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("get default account: %w", err)
	}
	envID, envSecret := getenv("BERTH_ROOT_ACCESS_KEY_ID"), getenv("BERTH_ROOT_SECRET_ACCESS_KEY")
	if (envID == "") != (envSecret == "") {
		return errors.New("BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY must be set together")
	}
	if envID != "" {
		return a.ensureKey(ctx, rootKey{envID, envSecret})
	}
	keys, err := a.meta.ListAccessKeys(ctx, acct, "")
	if err != nil {
		return fmt.Errorf("list root keys: %w", err)
	}
	if len(keys) > 0 {
		return nil
	}
	id, secret, err := auth.GenerateAccessKey(rand.Reader)
	if err != nil {
		return err
	}
	sealed, err := a.sealer.Seal([]byte(secret), []byte(id))
	if err != nil {
		return err
	}
	// Nodes starting together on an empty database all get here; the
	// store lets exactly one of them create the account's first root key.
	created, err := a.meta.CreateFirstRootKey(ctx, metastore.AccessKey{ID: id, AccountID: acct,
		SecretCiphertext: sealed, Active: true, CreatedAt: a.now()})
	if err != nil {
		return fmt.Errorf("store root access key: %w", err)
	}
	if !created {
		a.log.Info("another node created the root access key", "account", acct)
		return nil
	}
	path := filepath.Join(a.cfg.DataDir, RootCredentialsFile)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // printed for pasting into another shell
	}
	fmt.Fprintf(out, `
Berth created account %s and its root access key (shown once; also saved to %s):

  aws_access_key_id     = %s
  aws_secret_access_key = %s

Next steps:
  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_REGION=%s AWS_ENDPOINT_URL=%s
  aws ecr create-repository --repository-name <repository>
  aws ecr get-login-password | docker login --username AWS --password-stdin %s
  docker push %s/<repository>:<tag>

`, acct, path, id, secret, path, a.cfg.Region, a.cfg.URL(), a.cfg.Host(), a.cfg.Host())
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n",
		id, secret, a.cfg.Region)
	if err := auth.WriteFileDurable(path, []byte(creds), 0o600); err != nil {
		return fmt.Errorf("write %s (the root key was created and printed above): %w", path, err)
	}
	return nil
}

// ensureKey stores k as a root key of the default account unless it exists;
// an existing id with a different secret is an error, not a silent reset.
func (a *App) ensureKey(ctx context.Context, k rootKey) error {
	if !auth.ValidAccessKeyID(k.id) || len(k.secret) < 16 || len(k.secret) > 128 {
		return errors.New("root access key: want an id of 16-128 upper-case letters and digits and a secret of 16-128 characters")
	}
	existing, err := a.meta.GetAccessKey(ctx, k.id)
	if err == nil {
		if existing.AccountID != a.cfg.AccountID || existing.UserName != "" {
			return fmt.Errorf("access key %s belongs to another principal", k.id)
		}
		if _, err := a.authn.AuthenticateKey(ctx, k.id, k.secret); err != nil {
			return fmt.Errorf("root access key %s exists with a different secret or is inactive", k.id)
		}
		return nil
	}
	if !errors.Is(err, metastore.ErrNotFound) {
		return fmt.Errorf("get access key: %w", err)
	}
	sealed, err := a.sealer.Seal([]byte(k.secret), []byte(k.id))
	if err != nil {
		return err
	}
	err = a.meta.CreateAccessKey(ctx, metastore.AccessKey{
		ID: k.id, AccountID: a.cfg.AccountID, SecretCiphertext: sealed, Active: true, CreatedAt: a.now(),
	})
	if errors.Is(err, metastore.ErrAlreadyExists) {
		// Another node, starting at the same time, stored it first.
		if _, err := a.authn.AuthenticateKey(ctx, k.id, k.secret); err != nil {
			return fmt.Errorf("root access key %s exists with a different secret or is inactive", k.id)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("store root access key: %w", err)
	}
	return nil
}

// ensureDir creates the data directory private to the service user.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
