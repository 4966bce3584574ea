// Package httpserver runs Berth's listeners and the middleware every
// request passes through: request id, panic recovery, the access log and
// request metrics.
package httpserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/auth"
)

type ctxKey struct{}

// RequestID returns the id the middleware gave the request, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware wraps h with request ids, panic recovery, an access log and,
// when m is not nil, request metrics.
// The log records who (by principal header set downstream), never secrets:
// the Authorization header and query strings are not logged.
func Middleware(h http.Handler, log *slog.Logger, now func() time.Time, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		r, in := m.begin(r)
		id := newID()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		ctx = auth.WithRequestInfo(ctx, auth.RequestInfo{
			SourceIP: remoteIP(r.RemoteAddr), SecureTransport: r.TLS != nil, UserAgent: r.UserAgent(),
		})
		ctx, n := withNotes(ctx)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			p := recover()
			if p == http.ErrAbortHandler {
				m.end(r, n.route, rec.status, in, rec.bytes, now().Sub(start))
				panic(p)
			}
			if p != nil {
				log.ErrorContext(ctx, "panic serving request", "request_id", id, "panic", fmt.Sprint(p))
				if !rec.wrote {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			took := now().Sub(start)
			log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.String("route", n.route), slog.String("principal", n.principal),
				slog.Int64("bytes_out", rec.bytes), slog.Int64("bytes_in", r.ContentLength), slog.String("remote", r.RemoteAddr),
				slog.Duration("duration", took), slog.String("user_agent", r.UserAgent()))
			m.end(r, n.route, rec.status, in, rec.bytes, took)
		}()
		h.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// remoteIP drops the port from a RemoteAddr. Berth trusts the connection's
// peer, not X-Forwarded-For, so a client cannot choose its aws:SourceIp.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder notes status and size for the access log. It forwards ReadFrom
// so sendfile still works underneath.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps net/http's sendfile path for file bodies.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Server is one listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
	tls bool
}

// Listen binds addr. With certFile and keyFile it serves TLS.
func Listen(addr string, h http.Handler, certFile, keyFile string, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s := &Server{srv: srv, ln: ln}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	return s, nil
}

// Close releases the listener of a server that will not serve.
func (s *Server) Close() error { return s.ln.Close() }

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve runs until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- s.srv.ServeTLS(s.ln, "", "")
		} else {
			errc <- s.srv.Serve(s.ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return s.srv.Shutdown(sctx)
	}
}
