package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// limitCommand is the hidden subcommand that runs the limit server: the
// program re-executes itself so the limit, like the registries, is a
// process of its own that does not share the load generator's runtime.
const limitCommand = "limit-server"

// limitServer is the physical limit: the least a durable registry must do.
// PUT /push/ receives a body, sha256-hashes it in the same pass, writes it
// to a temp file, fsyncs, renames it to its digest and fsyncs the directory.
// GET /file/<hex> serves such a file the fastest raw way measured on these
// machines: a copy through a 1 MiB buffer (sendfile was slower here);
// DELETE /file/<hex> removes it; GET /healthz answers 200.
type limitServer struct {
	dir  string
	bufs sync.Pool
}

// limitServerMain serves until SIGTERM: bench limit-server ADDR DIR.
func limitServerMain(args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: bench", limitCommand, "ADDR DIR")
		return 2
	}
	if err := os.MkdirAll(args[1], 0o750); err != nil {
		fmt.Fprintln(stderr, "bench limit-server:", err)
		return 1
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(stderr, "bench limit-server:", err)
		return 1
	}
	l := &limitServer{dir: args[1]}
	l.bufs.New = func() any { b := make([]byte, 1<<20); return &b } // Berth's fsblob buffer size
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /push/", l.push)
	mux.HandleFunc("GET /file/{name}", l.serve)
	mux.HandleFunc("DELETE /file/{name}", l.remove)
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "bench limit-server:", err)
		return 1
	}
	return 0
}

func (l *limitServer) push(w http.ResponseWriter, r *http.Request) {
	name, err := l.store(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", "/file/"+name)
	w.Header().Set("Docker-Content-Digest", "sha256:"+name)
	w.WriteHeader(http.StatusCreated)
}

func (l *limitServer) store(body io.Reader) (string, error) {
	f, err := os.CreateTemp(l.dir, "upload-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	h := sha256.New()
	for {
		n, rerr := io.ReadFull(body, *bp)
		if n > 0 {
			h.Write((*bp)[:n])
			if _, err := f.Write((*bp)[:n]); err != nil {
				f.Close()
				return "", err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			f.Close()
			return "", rerr
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	name := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp, filepath.Join(l.dir, name)); err != nil {
		return "", err
	}
	d, err := os.Open(l.dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return name, d.Sync()
}

func (l *limitServer) path(r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return "", false
	}
	return filepath.Join(l.dir, name), true
}

func (l *limitServer) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := l.path(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 1<<20)
	_, _ = io.CopyBuffer(struct{ io.Writer }{w}, f, buf)
}

func (l *limitServer) remove(w http.ResponseWriter, r *http.Request) {
	p, ok := l.path(r)
	if !ok || os.Remove(p) != nil {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
