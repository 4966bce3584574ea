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
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/sigv4"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/ecrapi"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/iamapi"
	"github.com/berth-registry/berth/internal/identity"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/instrumented"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/ociapi"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/worker"
	"github.com/berth-registry/berth/internal/worker/gc"
	"github.com/berth-registry/berth/internal/worker/lifecyclerun"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// App is a running Berth node.
type App struct {
	cfg config.Config
	// node names this node in job claims, the job history and logs.
	node   string
	log    *slog.Logger
	now    func() time.Time
	meta   metastore.Store
	blobs  blobstore.Store
	sealer *auth.Sealer
	keys   *auth.CachedKeys
	authn  *auth.KeyAuthenticator
	tokens *token.Minter
	authz  *registry.PolicyAuthorizer
	svc    *registry.Service
	server *httpserver.Server
	// metrics is this node's own registry, never the process-global one.
	metrics *prometheus.Registry
	// metricsServer serves /metrics on cfg.MetricsAddr; nil when off.
	metricsServer *httpserver.Server
	// jobs runs background work on whichever node holds each job's claim.
	jobs *worker.Runner
	// pulls buffers pull times; Run flushes it on schedule and at the end.
	pulls *registry.PullTimes
	// gc collects garbage when the gc job runs here.
	gc *gc.Collector
	// lifecycle runs lifecycle policies and previews when their jobs run
	// here (lifecycle.go).
	lifecycle *lifecyclerun.Runner
	// events delivers registry events (a job); nil when events are off.
	events atomic.Pointer[events.Dispatcher]
	// audit writes the audit trail; nil when it is off.
	audit *audit.Recorder
	// auditDB stores the trail (see audit.go).
	auditDB auditDB
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
	a := &App{cfg: cfg, log: d.Logger, now: d.Clock, metrics: prometheus.NewRegistry(), node: nodeName(cfg)}
	if err := ensureDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := a.metrics.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := a.metrics.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	storeMetrics, err := sqlstore.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	svcMetrics, err := registry.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	httpMetrics, err := httpserver.NewMetrics(a.metrics, apiOf)
	if err != nil {
		return nil, err
	}
	if cfg.Postgres() && cfg.SecretsKey == "" && cfg.SecretsKeyFile == "" {
		return nil, errors.New(noKeyOnPostgres(cfg)) // before touching the database
	}
	metaMetrics, err := instrumented.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	meta, err := openMeta(ctx, cfg, sqlstore.Options{Logger: d.Logger, Clock: d.Clock, Metrics: storeMetrics,
		NoOutbox: !cfg.Events, OnEvents: a.wakeEvents})
	if err != nil {
		return nil, err
	}
	a.meta = instrumented.Wrap(meta, metaMetrics)
	if err := registry.RegisterUploadStats(a.metrics, a.meta, d.Logger, 2*time.Second); err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.sealer, err = openSealer(ctx, cfg, a.meta); err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.blobs, err = openBlobStore(ctx, cfg); err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.auditDB, err = openAuditDB(ctx, cfg, a.meta, sqlstore.Options{Logger: d.Logger, Clock: d.Clock}); err != nil {
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
	a.authz = &registry.PolicyAuthorizer{Store: a.meta, Clock: d.Clock, TTL: policyCacheTTL}
	if a.pulls, err = a.newPullTimes(); err != nil {
		a.meta.Close()
		return nil, err
	}
	a.svc, err = registry.New(registry.Options{
		Meta: a.meta, Blobs: a.blobs, Logger: d.Logger, Clock: d.Clock, Authorizer: a.authz,
		Region: cfg.Region, CreateOnPush: cfg.CreateOnPush, UploadExpiry: cfg.UploadExpiry,
		RepositoryCacheTTL: time.Second, Metrics: svcMetrics, BlobRedirects: cfg.S3Redirect, GCGrace: cfg.GCGrace,
		PullTimes: a.pulls, RestoreRequested: a.restoreRequested,
		LifecyclePolicyChanged: a.lifecyclePolicyChanged, LifecyclePreviewStarted: a.lifecyclePreviewStarted,
	})
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.gc, err = a.newCollector(); err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.lifecycle, err = a.newLifecycleRunner(); err != nil {
		a.meta.Close()
		return nil, err
	}
	dispatcher, err := a.newDispatcher()
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	a.events.Store(dispatcher)
	if a.jobs, err = a.newJobs(); err != nil {
		a.meta.Close()
		return nil, err
	}
	h, err := a.handler()
	if err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.audit, err = a.newAudit(); err != nil {
		a.meta.Close()
		return nil, err
	}
	if a.audit != nil {
		h = a.audit.Middleware(h) // inside the request id and request facts
	}
	// Request lines name the node, as job lines do, for logs gathered from many nodes.
	a.server, err = httpserver.Listen(cfg.Addr, httpserver.Middleware(h, d.Logger.With("node", a.node), d.Clock, httpMetrics),
		cfg.TLSCert, cfg.TLSKey, d.Logger)
	if err != nil {
		a.closeAudit()
		a.meta.Close()
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		if a.metricsServer, err = httpserver.Listen(cfg.MetricsAddr, a.metricsHandler(), "", "", d.Logger); err != nil {
			a.server.Close()
			a.closeAudit()
			a.meta.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return a, nil
}

// newPullTimes builds this node's pull-time buffer.
func (a *App) newPullTimes() (*registry.PullTimes, error) {
	m, err := registry.NewPullTimeMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	return registry.NewPullTimes(registry.PullTimeOptions{Store: a.meta, Flush: a.cfg.PullTimeFlush,
		Logger: a.log, Clock: a.now, Metrics: m})
}

// flushPullTimes writes the pull times still buffered, once no request is
// served any more.
func (a *App) flushPullTimes() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.pulls.Flush(ctx); err != nil {
		a.log.Warn("pull times not recorded at shutdown", "err", err)
	}
}

// metricsHandler serves the node's registry at /metrics. It is for its own
// listener only: it is unauthenticated.
func (a *App) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError), Registry: a.metrics,
	}))
	return mux
}

// policyCacheTTL is how long a node trusts policies it loaded; changes made
// through this node apply at once.
const policyCacheTTL = time.Second

// tokenStore gives the password minter the shared signing keys and the
// cached access-key lookups.
type tokenStore struct {
	metastore.SigningKeyStore
	*auth.CachedKeys
}

// apiOf names the front end a request is for: the routing of handler and the
// api label of the HTTP metrics. Its values are few and fixed, never a path.
func apiOf(r *http.Request) string {
	switch p := r.URL.Path; {
	// /v2 paths go to the registry handler as they are: ServeMux would
	// redirect paths like /v2/a//b, which clients do not follow for PUT
	// and PATCH, so names are validated by the handler instead.
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		return "v2"
	case ecrapi.IsECRRequest(r):
		return "ecr"
	case iamapi.IsQueryRequest(r):
		return "iam"
	case p == ecrapi.DownloadPath:
		return "download"
	case p == "/healthz" || p == "/readyz":
		return "health"
	default:
		return "other"
	}
}

// handler is the one listener's routing: /v2 for registry clients, the ECR
// API (POST / with X-Amz-Target), IAM and STS, signed layer downloads, and
// health endpoints for operators.
func (a *App) handler() (http.Handler, error) {
	v2 := ociapi.New(ociapi.Options{
		Service: a.svc, Auth: a.authn, DefaultAccount: a.cfg.AccountID,
		RegistryHost: a.cfg.Host(), RegistryURL: a.cfg.URL(), Logger: a.log, AnonymousPull: a.cfg.AnonymousPull,
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
	iam, err := a.iamHandler()
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
		switch apiOf(r) {
		case "v2":
			v2.ServeHTTP(w, r)
		case "ecr":
			ecr.ServeHTTP(w, r)
		case "iam":
			iam.ServeHTTP(w, r)
		default:
			switch r.URL.Path {
			case "/healthz":
				httpserver.SetRoute(r.Context(), "healthz")
			case "/readyz":
				httpserver.SetRoute(r.Context(), "readyz")
			case ecrapi.DownloadPath:
				httpserver.SetRoute(r.Context(), "layer_download")
			}
			mux.ServeHTTP(w, r)
		}
	}), nil
}

// iamHandler builds the IAM and STS query API. IAM actions are authorized
// by the same policy engine as ECR actions.
func (a *App) iamHandler() (http.Handler, error) {
	ids, err := identity.New(identity.Options{
		Store: a.meta, Sealer: a.sealer, Managed: managedCatalog{}, Clock: a.now, Logger: a.log,
		InvalidateKey: a.keys.Invalidate,
		// Sizes are checked by identity (inline aggregate, managed policy).
		ValidatePolicy: func(doc string) error { _, err := policy.ParseWithLimit(doc, policy.Identity, 0); return err },
		Authorize: func(ctx context.Context, who auth.Principal, action, resource, account string) error {
			err := a.authz.Authorize(ctx, registry.AccessRequest{Principal: who, Action: action,
				Resource: resource, ResourceAccount: account})
			if errors.Is(err, registry.ErrDenied) {
				return identity.Denied(registry.Message(err))
			}
			return err
		},
		OnPolicyChange: a.authz.InvalidateIdentity,
	})
	if err != nil {
		return nil, err
	}
	return iamapi.New(iamapi.Options{Service: ids, Logger: a.log,
		Auth: &auth.SigV4Authenticator{Keys: a.keys, Sealer: a.sealer,
			Verifier: &sigv4.Verifier{Region: a.cfg.Region, Services: []string{"iam", "sts"}, Clock: a.now}}}), nil
}

// managedCatalog adapts the policy engine's built-in AWS-managed policies.
type managedCatalog struct{}

func (managedCatalog) Get(arn string) (string, string, bool) {
	name, ok := strings.CutPrefix(arn, policy.ManagedARNPrefix)
	if !ok {
		return "", "", false
	}
	p, ok := policy.Managed(name)
	if !ok {
		return "", "", false
	}
	return name, p.Text(), true
}

func (managedCatalog) List() []string {
	names := policy.ManagedNames()
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = policy.ManagedARN(n)
	}
	return out
}

// ready reports whether the database and blob store answer.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var errs []error
	if err := a.meta.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	if err := pingBlobs(ctx, a.blobs); err != nil {
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

// Run serves until ctx ends, with background work alongside. If one
// listener fails the other is shut down too.
func (a *App) Run(ctx context.Context) error {
	defer a.meta.Close()
	defer a.closeAudit() // last before the store closes: every request's record is queued by then
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); a.jobs.Run(ctx) }()
	defer func() { <-jobsDone }() // after cancel: running jobs stop and record their runs
	pullsDone := make(chan struct{})
	go func() { defer close(pullsDone); a.pulls.Run(ctx) }()
	defer a.flushPullTimes() // after the servers stopped: no pull is left unwritten
	defer func() { <-pullsDone }()
	servers := []*httpserver.Server{a.server}
	attrs := []any{"node", a.node, "addr", a.server.Addr().String(), "registry", a.cfg.URL(),
		"account", a.cfg.AccountID, "region", a.cfg.Region, "data_dir", a.cfg.DataDir,
		"database", a.cfg.DatabaseRedacted(), "blob_store", blobStoreName(a.cfg)}
	if a.metricsServer != nil {
		servers = append(servers, a.metricsServer)
		attrs = append(attrs, "metrics_addr", a.metricsServer.Addr().String())
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			err := s.Serve(ctx)
			cancel()
			errc <- err
		}()
	}
	a.log.Info("berth serving", attrs...)
	var errs []error
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// nodeName is the configured node name, else the host name.
func nodeName(cfg config.Config) string {
	if cfg.NodeName != "" {
		return cfg.NodeName
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "node"
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
