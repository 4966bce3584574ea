// Package app is the composition root: it turns a Config into stores,
// services, HTTP handlers and background work, and runs them. It is the only
// package that imports everything.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/sigv4"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/ecrapi"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/ociapi"
	"github.com/berth-registry/berth/internal/registry"
)

// App is a running Berth node.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	now    func() time.Time
	meta   metastore.Store
	blobs  blobstore.Store
	sealer *auth.Sealer
	keys   *auth.CachedKeys
	authn  *auth.KeyAuthenticator
	tokens *token.Minter
	svc    *registry.Service
	server *httpserver.Server
}

// Deps are the process-level things the app is given rather than finds.
type Deps struct {
	Logger *slog.Logger
	Clock  func() time.Time
	Getenv func(string) string
	Stdout io.Writer // where first-start credentials are printed
}

// New opens the stores and builds the node; it does not serve yet.
func New(ctx context.Context, cfg config.Config, d Deps) (*App, error) {
	a := &App{cfg: cfg, log: d.Logger, now: d.Clock}
	if err := ensureDir(cfg.DataDir); err != nil {
		return nil, err
	}
	key, err := auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, "secrets.key"))
	if err != nil {
		return nil, err
	}
	if a.sealer, err = auth.NewSealer(key); err != nil {
		return nil, err
	}
	a.meta, err = sqlstore.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "berth.db"),
		sqlstore.Options{Logger: d.Logger, Clock: d.Clock})
	if err != nil {
		return nil, err
	}
	if a.blobs, err = fsblob.New(filepath.Join(cfg.DataDir, "blobs")); err != nil {
		a.meta.Close()
		return nil, err
	}
	a.keys = &auth.CachedKeys{Keys: a.meta, TTL: cfg.KeyCacheTTL, Clock: d.Clock}
	a.tokens = token.New(token.Options{Store: tokenStore{a.meta, a.keys}, Sealer: a.sealer, Clock: d.Clock})
	a.authn = &auth.KeyAuthenticator{Keys: a.keys, Sealer: a.sealer, Tokens: a.tokens}
	if err := a.bootstrap(ctx, d.Getenv, d.Stdout); err != nil {
		a.meta.Close()
		return nil, err
	}
	a.svc, err = registry.New(registry.Options{
		Meta: a.meta, Blobs: a.blobs, Authorizer: registry.AccountAuthorizer{}, Logger: d.Logger, Clock: d.Clock,
		Region: cfg.Region, CreateOnPush: cfg.CreateOnPush, UploadExpiry: cfg.UploadExpiry,
		RepositoryCacheTTL: time.Second,
	})
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	h, err := a.handler()
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	a.server, err = httpserver.Listen(cfg.Addr, httpserver.Middleware(h, d.Logger, d.Clock),
		cfg.TLSCert, cfg.TLSKey, d.Logger)
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	return a, nil
}

// tokenStore gives the password minter the shared signing keys and the
// cached access-key lookups.
type tokenStore struct {
	metastore.SigningKeyStore
	*auth.CachedKeys
}

// handler is the one listener's routing: /v2 for registry clients, the ECR
// API (POST / with X-Amz-Target), signed layer downloads, and health
// endpoints for operators.
func (a *App) handler() (http.Handler, error) {
	v2 := ociapi.New(ociapi.Options{
		Service: a.svc, Auth: a.authn, DefaultAccount: a.cfg.AccountID,
		RegistryHost: a.cfg.Host(), RegistryURL: a.cfg.URL(), Logger: a.log,
	})
	ecr, err := ecrapi.New(ecrapi.Options{
		Service: a.svc, Tokens: a.tokens, Signer: a.tokens,
		Auth: &auth.SigV4Authenticator{Keys: a.keys, Sealer: a.sealer,
			Verifier: &sigv4.Verifier{Region: a.cfg.Region, Services: []string{"ecr"}, Clock: a.now}},
		RegistryURL: a.cfg.URL(), RegistryHost: a.cfg.Host(), DefaultAccount: a.cfg.AccountID,
		Region: a.cfg.Region, Logger: a.log, Clock: a.now,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(ecrapi.DownloadPath, ecr.ServeDownload)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", a.ready)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		// /v2 paths go to the registry handler as they are: ServeMux would
		// redirect paths like /v2/a//b, which clients do not follow for PUT
		// and PATCH, so names are validated by the handler instead.
		case p == "/v2" || strings.HasPrefix(p, "/v2/"):
			v2.ServeHTTP(w, r)
		case ecrapi.IsECRRequest(r):
			ecr.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	}), nil
}

// ready reports whether the database and blob store answer.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var errs []error
	if err := a.meta.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	if _, err := a.blobs.Stat(ctx, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); err != nil &&
		!errors.Is(err, blobstore.ErrNotFound) {
		errs = append(errs, fmt.Errorf("blob store: %w", err))
	}
	w.Header().Set("Content-Type", "text/plain")
	if err := errors.Join(errs...); err != nil {
		a.log.WarnContext(ctx, "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Addr is the bound listen address.
func (a *App) Addr() net.Addr { return a.server.Addr() }

// Run serves until ctx ends, with background work alongside.
func (a *App) Run(ctx context.Context) error {
	defer a.meta.Close()
	go a.expireUploads(ctx)
	a.log.Info("berth serving", "addr", a.server.Addr().String(), "registry", a.cfg.URL(),
		"account", a.cfg.AccountID, "region", a.cfg.Region, "data_dir", a.cfg.DataDir)
	err := a.server.Serve(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// expireUploads removes abandoned upload sessions periodically.
func (a *App) expireUploads(ctx context.Context) {
	every := max(min(a.cfg.UploadExpiry/10, 10*time.Minute), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.svc.ExpireUploads(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("expire uploads", "err", err)
		} else if n > 0 {
			a.log.Info("expired upload sessions", "count", n)
		}
	}
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	o := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
