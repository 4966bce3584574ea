package testenv

// MinIO: the one scripts/test.sh started, named by environment variables,
// or a private one started from a locally installed binary.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Environment variables through which scripts/test.sh hands tests its
// MinIO.
const (
	EnvS3Endpoint  = "BERTH_TEST_S3_ENDPOINT"
	EnvS3AccessKey = "BERTH_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "BERTH_TEST_S3_SECRET_KEY"
)

// Credentials of a private MinIO (it listens on loopback only).
const (
	minioUser     = "berthtest"
	minioPassword = "berthtest-secret-0123456789"
)

// S3 is an S3-compatible endpoint tests may create buckets in.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	CAFile    string // PEM of the CA that signed an HTTPS endpoint's certificate
}

// MinIO returns the test S3 endpoint: the one in BERTH_TEST_S3_*, which
// scripts/test.sh sets (under CI, CI=true, a missing one fails the test),
// else a private MinIO started once per test process from the minio
// binary on PATH or in $(go env GOPATH)/bin (go install
// github.com/minio/minio@…); without that binary the test is skipped,
// saying what to do. Call StopMinIO from TestMain to stop a private MinIO.
func MinIO(t testing.TB) *S3 {
	t.Helper()
	if ep := os.Getenv(EnvS3Endpoint); ep != "" {
		e := &S3{Endpoint: ep, AccessKey: os.Getenv(EnvS3AccessKey), SecretKey: os.Getenv(EnvS3SecretKey), Region: "us-east-1"}
		// MinIO answers its health check before it serves S3 calls.
		shared.once.Do(func() { shared.err = e.waitReady(60 * time.Second) })
		if shared.err != nil {
			t.Fatalf("the MinIO at %s=%s does not answer: %v", EnvS3Endpoint, ep, shared.err)
		}
		return e
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set under CI: scripts/test.sh starts MinIO and exports it", EnvS3Endpoint)
	}
	private.once.Do(private.start)
	if private.err != nil {
		t.Skipf("no MinIO for this test: %v; run scripts/test.sh (it installs and starts one) "+
			"or `go install github.com/minio/minio@latest`", private.err)
	}
	return private.s3
}

// MinIOTLS is a private MinIO serving HTTPS with a certificate for
// 127.0.0.1 and localhost from a CA generated for it (S3.CAFile), started
// once per test process, for tests of TLS settings.
func MinIOTLS(t testing.TB) *S3 {
	t.Helper()
	privateTLS.once.Do(privateTLS.start)
	if privateTLS.err != nil {
		msg := fmt.Sprintf("no MinIO for this test: %v; `go install github.com/minio/minio@latest` "+
			"(scripts/test.sh does)", privateTLS.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return privateTLS.s3
}

// StopMinIO stops the private MinIOs this process started.
func StopMinIO() {
	private.stop()
	privateTLS.stop()
}

func (p *privateMinIO) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Wait()
		_ = os.RemoveAll(p.dir)
		p.cmd = nil
	}
}

// privateMinIO is the process's own MinIO, started at most once.
type privateMinIO struct {
	tls  bool // serve HTTPS with a certificate from a generated CA
	once sync.Once
	mu   sync.Mutex
	cmd  *exec.Cmd
	dir  string
	s3   *S3
	err  error
}

var (
	private    privateMinIO
	privateTLS = privateMinIO{tls: true}
)

// shared records whether the MinIO named by the environment answered.
var shared struct {
	once sync.Once
	err  error
}

// minioBinary finds the minio executable.
func minioBinary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOPATH: %w", err)
		}
		gopath = strings.TrimSpace(string(out))
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("no minio binary on PATH or in $(go env GOPATH)/bin")
}

// start runs minio on a free loopback port with a temporary data
// directory, in its own process group, killed if this process dies.
func (p *privateMinIO) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	bin, err := minioBinary()
	if err != nil {
		p.err = err
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		if p.err = p.run(bin); p.err == nil {
			return
		}
	}
}

func (p *privateMinIO) run(bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	console, err := freeAddr()
	if err != nil {
		return err
	}
	removeAbandoned()
	dir, err := os.MkdirTemp("", dataDirPattern)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	args := []string{"server", "--quiet", "--address", addr, "--console-address", console}
	scheme, caFile := "http", ""
	if p.tls {
		certs := filepath.Join(dir, "certs")
		if caFile, err = writeCerts(certs); err != nil {
			return err
		}
		args = append(args, "--certs-dir", certs)
		scheme = "https"
	}
	cmd := exec.Command(bin, append(args, filepath.Join(dir, "data"))...)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("start minio: %w", err)
	}
	endpoint := scheme + "://" + addr
	env := &S3{Endpoint: endpoint, AccessKey: minioUser, SecretKey: minioPassword, Region: "us-east-1", CAFile: caFile}
	if err := env.waitReady(60 * time.Second); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
		return fmt.Errorf("minio did not become ready: %w; output:\n%s", err, logs.String())
	}
	p.cmd, p.dir = cmd, dir
	p.s3 = env
	return nil
}

// A private MinIO's data directory, and the file in it naming the test
// process that owns it.
const (
	dataDirPattern = "berth-minio-"
	ownerFile      = "berth-test-owner"
)

// removeAbandoned deletes the data directories of private MinIOs whose
// test process has exited without StopMinIO (packages without a TestMain).
func removeAbandoned() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dataDirPattern+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls until MinIO answers an S3 call: its health endpoint
// answers before the object layer is initialized.
func (e *S3) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := e.Client()
	for {
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Client returns an S3 client for the endpoint, path-style as MinIO wants.
func (e *S3) Client() *s3.Client {
	o := s3.Options{
		BaseEndpoint: aws.String(e.Endpoint), Region: e.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
	}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			o.HTTPClient = &http.Client{Transport: tr}
		}
	}
	return s3.New(o)
}

// Bucket creates a fresh bucket for t and removes it, with everything in
// it, when t ends.
func (e *S3) Bucket(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "berth-test-" + hex.EncodeToString(b[:])
	c := e.Client()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s at %s: %v", name, e.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := emptyBucket(ctx, c, name); err != nil {
			t.Errorf("empty bucket %s: %v", name, err)
			return
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name}); err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
	return name
}

// emptyBucket deletes every object and aborts every multipart upload.
func emptyBucket(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key}); err != nil {
				return err
			}
		}
	}
	mp, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	for _, u := range mp.Uploads {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: &bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
			return err
		}
	}
	return nil
}

// ListMultipartUploads lists a bucket's multipart uploads under prefix.
func (e *S3) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]types.MultipartUpload, error) {
	out, err := e.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		return nil, err
	}
	return out.Uploads, nil
}
