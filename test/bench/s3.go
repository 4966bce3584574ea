package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
)

// s3Options are the flags of the S3 mode (-s3 ENDPOINT).
type s3Options struct {
	endpoint, accessKey, secretKey string
	clients                        int   // concurrent pushes of the concurrent-push row
	pushSize                       int64 // size of each of them
	rssPushes                      int   // concurrent pushes during which RSS is sampled
	rssSize                        int64 // size of each of them
}

// S3 bucket roles: each server and the limit has a bucket of its own.
const (
	bucketBerth     = "berth"
	bucketReference = "reference"
	bucketLimit     = "limit"
)

// newS3Client is an SDK client for the endpoint: path style, checksums only
// where S3 requires them (as Berth's), payloads sent unsigned: the least
// work a client can do over plain HTTP, which is the limit's job.
func newS3Client(o s3Options) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(o.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, ""),
		HTTPClient:                 &http.Client{Transport: newTransport(64)},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	})
}

// s3Bench is the S3 mode's shared state: the SDK client that creates and
// empties the buckets and does the limit's transfers, and the large blob
// each target keeps for the pull rows.
type s3Bench struct {
	*bench
	client *s3.Client
	bucket string // the limit's
	large  map[*target]string
}

// s3Targets are the servers of the S3 mode: Berth and the reference with
// pulls redirected to presigned MinIO URLs and with pulls streamed through
// the server, and the limit (the SDK straight to MinIO, no process).
type s3Targets struct {
	berth, berthProxy, ref, refProxy, limit *target
}

// runS3 is the S3 mode: it creates one bucket per server on the endpoint,
// starts the four servers on them, runs the S3 scenarios and prints the
// report; the buckets are emptied and removed on the way out.
func runS3(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	tmp, err := os.MkdirTemp(o.tmpDir, "berth-bench-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	root, err := moduleRoot(o)
	if err != nil {
		return err
	}
	logf("building Berth from %s", root)
	berthBin := filepath.Join(tmp, "bin", "berth")
	if err := buildBerth(ctx, root, berthBin); err != nil {
		return err
	}
	refBin, err := findReference(ctx, o.refBin, stderr)
	if err != nil {
		return err
	}
	client := newS3Client(o.s3)
	buckets, drop, err := createBuckets(ctx, client)
	stops = append(stops, drop)
	if err != nil {
		return err
	}
	ts, err := startS3Targets(ctx, o, tmp, berthBin, refBin, buckets, &stops)
	if err != nil {
		return err
	}
	logf("servers: berth pid %d (redirects) and %d (streams), reference pid %d (redirects) and %d (streams); buckets %s",
		ts.berth.proc.pid(), ts.berthProxy.proc.pid(), ts.ref.proc.pid(), ts.refProxy.proc.pid(),
		strings.Join([]string{buckets[bucketBerth], buckets[bucketReference], buckets[bucketLimit]}, ", "))
	b, err := newBench(o, stderr)
	if err != nil {
		return err
	}
	sb := &s3Bench{bench: b, client: client, bucket: buckets[bucketLimit], large: map[*target]string{}}
	hdr := newHeader(o, refBin, ts.berth, ts.ref)
	hdr.SharedCores += " (and with MinIO at " + o.s3.endpoint + ")"
	hdr.S3 = fmt.Sprintf("S3 mode on %s: Berth --blob-store s3://<bucket>/berth --s3-path-style, "+
		"with --s3-redirect (true, false); the reference's s3 driver (chunksize default) with redirect.disable (false, true); "+
		"limit: the same bytes by one PutObject (sha256 in the same pass, unsigned payload) and one GetObject", o.s3.endpoint)
	logf("%s", strings.Join(hdr.lines(), "\n       "))
	var metrics []*metric
	for _, run := range sb.s3Runs(ts) {
		if len(o.only) > 0 && !o.only[run.sc.key] {
			continue
		}
		metrics = append(metrics, b.runScenarios(ctx, []*scenario{run.sc}, run.targets...)...)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return report(stdout, hdr, metrics, o.jsonOut)
}

// moduleRoot is -src or the module root above the working directory.
func moduleRoot(o *options) (string, error) {
	if o.src != "" {
		return o.src, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return findModuleRoot(wd)
}

// createBuckets makes one fresh bucket per role; drop empties and removes
// them (also the multipart uploads left in them).
func createBuckets(ctx context.Context, c *s3.Client) (map[string]string, func(), error) {
	var n [4]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, func() {}, err
	}
	buckets := map[string]string{}
	var made []string
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		for _, name := range made {
			emptyBucket(ctx, c, name)
			_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
		}
	}
	for _, role := range []string{bucketBerth, bucketReference, bucketLimit} {
		name := "berth-bench-" + hex.EncodeToString(n[:]) + "-" + role
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			return nil, drop, fmt.Errorf("create bucket %s: %w", name, err)
		}
		made = append(made, name)
		buckets[role] = name
	}
	return buckets, drop, nil
}

// emptyBucket deletes every object and aborts every multipart upload.
func emptyBucket(ctx context.Context, c *s3.Client, bucket string) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil || len(page.Contents) == 0 {
			break
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		_, _ = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	}
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
	}
}

// startS3Targets starts Berth and the reference, each with redirects on
// and off, on their buckets (one key prefix per process).
func startS3Targets(ctx context.Context, o *options, tmp, berthBin, refBin string, buckets map[string]string, stops *[]func()) (*s3Targets, error) {
	ts := &s3Targets{limit: &target{name: targetLimit, base: o.s3.endpoint, tr: newTransport(o.concurrency)}}
	env := []string{"BERTH_S3_ACCESS_KEY_ID=" + o.s3.accessKey, "BERTH_S3_SECRET_ACCESS_KEY=" + o.s3.secretKey}
	for _, c := range []struct {
		t        **target
		label    string
		redirect bool
	}{{&ts.berth, "berth-redirect", true}, {&ts.berthProxy, "berth-stream", false}} {
		t, err := startBerthEnv(ctx, o, tmp, berthBin, c.label, env,
			"--blob-store", "s3://"+buckets[bucketBerth]+"/"+c.label, "--s3-endpoint", o.s3.endpoint, "--s3-path-style",
			fmt.Sprintf("--s3-redirect=%t", c.redirect))
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", c.label, err)
		}
		*stops = append(*stops, t.stop)
		*c.t = t
	}
	for _, c := range []struct {
		t        **target
		label    string
		redirect bool
	}{{&ts.ref, "reference-redirect", true}, {&ts.refProxy, "reference-stream", false}} {
		cfg := func(_, addr string) string {
			return referenceS3Config(o.s3, buckets[bucketReference], "/"+c.label, addr, c.redirect)
		}
		t, err := startReferenceAs(ctx, o, tmp, refBin, c.label, cfg)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", c.label, err)
		}
		*stops = append(*stops, t.stop)
		*c.t = t
	}
	*stops = append(*stops, ts.limit.tr.CloseIdleConnections)
	return ts, nil
}

// referenceS3Config is the reference registry's configuration on its s3
// driver: the bucket on the endpoint, path style, plain HTTP, default
// chunk size, pulls redirected to presigned URLs or not.
func referenceS3Config(o s3Options, bucket, rootDir, addr string, redirect bool) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: %q
    secretkey: %q
    region: us-east-1
    regionendpoint: %q
    forcepathstyle: true
    bucket: %q
    rootdirectory: %q
    secure: false
    v4auth: true
  redirect:
    disable: %t
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
`, o.accessKey, o.secretKey, o.endpoint, bucket, rootDir, !redirect, addr)
}

// s3Run is one scenario and the targets it is measured on.
type s3Run struct {
	sc      *scenario
	targets []*target
}

// s3Runs are the S3 mode's rows: large push, large pull with and without
// redirects, concurrent pushes (each against the reference and the limit),
// and the peak RSS during many concurrent large pushes.
func (sb *s3Bench) s3Runs(ts *s3Targets) []s3Run {
	o := sb.o
	runs := []s3Run{
		{sb.largePushS3(), []*target{ts.berth, ts.ref, ts.limit}},
		{sb.largePullS3("s3_large_pull_redirect", true), []*target{ts.berth, ts.ref, ts.limit}},
		{sb.largePullS3("s3_large_pull_stream", false), []*target{ts.berthProxy, ts.refProxy, ts.limit}},
		{sb.concurrentPushS3(), []*target{ts.berth, ts.ref, ts.limit}},
	}
	if o.s3.rssPushes > 0 {
		runs = append(runs, s3Run{sb.rssS3(), []*target{ts.berth, ts.ref}})
	}
	return runs
}
