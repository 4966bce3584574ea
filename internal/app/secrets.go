package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore"
)

// SecretsKeyFile is the secrets key's file in the data directory, used
// when no key is configured (SQLite only).
const SecretsKeyFile = "secrets.key"

// Key check: a constant sealed with the secrets key, stored once per
// database by the first node. A node whose key does not open it has a
// different key and refuses to start, instead of failing every stored
// secret later.
const (
	keyCheckName      = "secrets-key-check"
	keyCheckPlaintext = "berth secrets key check v1"
)

// sealerStore is what openSealer checks the key against.
type sealerStore interface {
	metastore.ClusterStore
	ListAccessKeys(ctx context.Context, accountID, userName string) ([]metastore.AccessKey, error)
}

// openSealer loads the configured secrets key (loadSecretsKey) and checks
// it against the database's key check, which the first node writes, and
// against the default account's first root key (a database from before
// the check, or one whose check was written with another key).
func openSealer(ctx context.Context, cfg config.Config, meta sealerStore) (*auth.Sealer, error) {
	key, err := loadSecretsKey(cfg)
	if err != nil {
		return nil, err
	}
	sealer, err := auth.NewSealer(key)
	if err != nil {
		return nil, err
	}
	wrongKey := fmt.Errorf("the secrets key (%s) is not the key this database was set up with: "+
		"every node of one registry needs the same key (give each node the same %s or --secrets-key-file)",
		secretsKeySource(cfg), config.EnvSecretsKey)
	roots, err := meta.ListAccessKeys(ctx, cfg.AccountID, "")
	if err != nil {
		return nil, fmt.Errorf("check the secrets key against the database: %w", err)
	}
	if len(roots) > 0 {
		if _, err := sealer.Open(roots[0].SecretCiphertext, []byte(roots[0].ID)); err != nil {
			return nil, fmt.Errorf("%w (it cannot open the stored root access key %s)", wrongKey, roots[0].ID)
		}
	}
	check, err := sealer.Seal([]byte(keyCheckPlaintext), []byte(keyCheckName))
	if err != nil {
		return nil, err
	}
	stored, err := meta.InitClusterValue(ctx, keyCheckName, check)
	if err != nil {
		return nil, fmt.Errorf("check the secrets key against the database: %w", err)
	}
	if got, err := sealer.Open(stored, []byte(keyCheckName)); err != nil || string(got) != keyCheckPlaintext {
		return nil, wrongKey
	}
	return sealer, nil
}

// loadSecretsKey is the one place that finds the secrets key:
// BERTH_SECRETS_KEY (or secretsKey in the YAML file), else
// --secrets-key-file, else — on SQLite only — <data-dir>/secrets.key,
// created on first use. On PostgreSQL the key must be given: nodes that
// each made up their own could not read each other's secrets.
func loadSecretsKey(cfg config.Config) ([]byte, error) {
	switch {
	case cfg.SecretsKey != "":
		key, err := auth.ParseKey(cfg.SecretsKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvSecretsKey, err)
		}
		return key, nil
	case cfg.SecretsKeyFile != "":
		return auth.ReadKeyFile(cfg.SecretsKeyFile)
	case cfg.Postgres():
		return nil, errors.New(noKeyOnPostgres(cfg))
	}
	return auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, SecretsKeyFile))
}

// noKeyOnPostgres says why a key is needed and how to give one, naming a
// key file this node used before, if any.
func noKeyOnPostgres(cfg config.Config) string {
	msg := "on PostgreSQL every node must be given the same secrets key (it seals access keys, webhook secrets " +
		"and the keys that sign registry passwords): set " + config.EnvSecretsKey + " to base64 of 32 random bytes " +
		"(`head -c 32 /dev/urandom | base64`) or --secrets-key-file to a file holding it, on every node"
	own := filepath.Join(cfg.DataDir, SecretsKeyFile)
	if _, err := os.Stat(own); err == nil {
		msg += fmt.Sprintf("; to keep the key this node used so far, give every node %s (or %s=$(base64 -w0 %s))",
			"--secrets-key-file "+own, config.EnvSecretsKey, own)
	}
	return msg
}

// secretsKeySource names where the key came from, for messages.
func secretsKeySource(cfg config.Config) string {
	switch {
	case cfg.SecretsKey != "":
		return config.EnvSecretsKey
	case cfg.SecretsKeyFile != "":
		return cfg.SecretsKeyFile
	}
	return filepath.Join(cfg.DataDir, SecretsKeyFile)
}
