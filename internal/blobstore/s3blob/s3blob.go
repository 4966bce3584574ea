// Package s3blob keeps blobs in an S3-compatible object store (AWS S3,
// MinIO, Ceph RGW). Uploads are sequences of write-once segment objects
// that a commit assembles server-side (see paths.go for the layout and why
// racing appends cannot overwrite each other); the whole resume state lives
// in the opaque UploadState the caller persists, so an upload started on
// one node continues on any other node that shares the bucket.
package s3blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// S3 limits that shape uploads and commits.
const (
	// minPartSize is S3's smallest part but the last of a multipart upload.
	minPartSize = 5 << 20
	// maxCopyPartSize is the largest part UploadPartCopy (and the largest
	// object CopyObject) accepts.
	maxCopyPartSize = 5 << 30
	// maxParts is the most parts one multipart upload may have.
	maxParts = 10000
	// copyPartSize is the range one UploadPartCopy of a commit copies.
	// Copying a large blob as parallel ranges measured about twice as fast
	// on MinIO as one CopyObject; ECR's largest layer (52,000 MiB) is then
	// 813 parts.
	copyPartSize = 64 << 20
)

// Defaults of Options.
const (
	DefaultPartSize       = 8 << 20
	DefaultMaxPartSize    = 32 << 20
	DefaultPartBudget     = 256 << 20
	DefaultRedirectExpiry = 20 * time.Minute
	defaultRegion         = "us-east-1"
)

// Options configures a Store. Bucket is required.
type Options struct {
	// Bucket must exist; the store never creates it.
	Bucket string
	// Prefix is prepended to every key ("" for none), so several
	// deployments can share a bucket.
	Prefix string
	// Region of the bucket. Empty takes the AWS configuration's region
	// (AWS_REGION, shared config), else us-east-1 (MinIO's default).
	Region string
	// Endpoint overrides the S3 endpoint (scheme://host[:port]), for MinIO,
	// Ceph and other S3-compatible stores.
	Endpoint string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible stores need it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials, both or
	// neither. Without them the standard AWS chain is used: environment,
	// shared config and credentials files, web identity, ECS, EC2 IMDS.
	AccessKeyID     string
	SecretAccessKey string
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// InsecureSkipVerify turns off TLS certificate checks (labs only).
	InsecureSkipVerify bool
	// PartSize is the size of the part buffers (default 8 MiB; 5 MiB to
	// 5 GiB). An append that streams holds two parts at most (one being
	// read, one being uploaded); each is one buffer, or up to MaxPartSize
	// of them while the store holds fewer than PartBudget bytes of
	// buffers. One append can write at most 10,000 parts.
	PartSize int64
	// MaxPartSize is the largest part an append streams when the budget
	// allows (default 32 MiB, rounded down to whole buffers): MinIO
	// serves an object of large parts faster than one of small parts.
	MaxPartSize int64
	// PartBudget bounds the buffers all appends of the store hold beyond
	// each part's first (default 256 MiB; negative for none), so memory
	// stays about max(PartBudget, 2 x PartSize x concurrent appends).
	PartBudget int64
	// RedirectExpiry is the lifetime of presigned GET URLs (default 20m).
	RedirectExpiry time.Duration
}

// Store is a blobstore.Store on an S3 bucket. It also implements
// blobstore.StaleUploadSweeper, blobstore.Redirector and blobstore.Pinger.
type Store struct {
	client   *s3.Client
	presign  *s3.PresignClient
	bucket   string
	layout   layout
	partSize int64
	expiry   time.Duration
	bufs     *bufferPool // of partSize bytes
	// bufsHeld counts part buffers in use; bufsPeak is its maximum.
	bufsHeld, bufsPeak atomic.Int64
	// partBufs is the most buffers one part takes; buffers beyond a
	// part's first are taken only while fewer than bufBudget are held.
	partBufs  int
	bufBudget int64

	// The largest range one copy takes (copyPartSize, at most S3's
	// maxCopyPartSize) and S3's part count limit; tests lower them.
	copyPart int64
	maxParts int
}

var (
	_ blobstore.Store              = (*Store)(nil)
	_ blobstore.StaleUploadSweeper = (*Store)(nil)
	_ blobstore.Redirector         = (*Store)(nil)
	_ blobstore.Pinger             = (*Store)(nil)
)

// New builds a Store. It loads credentials but does not contact the
// bucket; call Ping for that.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3blob: bucket is required")
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("s3blob: access key id and secret access key must be given together")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize || o.PartSize > maxCopyPartSize {
		return nil, fmt.Errorf("s3blob: part size %d: want 5 MiB to 5 GiB", o.PartSize)
	}
	if o.MaxPartSize == 0 {
		o.MaxPartSize = max(o.PartSize, DefaultMaxPartSize)
	}
	if o.MaxPartSize < o.PartSize || o.MaxPartSize > maxCopyPartSize {
		return nil, fmt.Errorf("s3blob: max part size %d: want part size to 5 GiB", o.MaxPartSize)
	}
	if o.PartBudget == 0 {
		o.PartBudget = DefaultPartBudget
	}
	if o.RedirectExpiry == 0 {
		o.RedirectExpiry = DefaultRedirectExpiry
	}
	if o.RedirectExpiry < time.Second || o.RedirectExpiry > 7*24*time.Hour {
		return nil, fmt.Errorf("s3blob: redirect expiry %s: want 1s to 7 days (SigV4's limit)", o.RedirectExpiry)
	}
	l, err := newLayout(o.Prefix)
	if err != nil {
		return nil, err
	}
	cfg, err := awsConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// Checksums only where S3 requires them: several S3-compatible
		// stores reject the SDK's default trailing checksums. SigV4 signs
		// the payload hash, and TLS protects it on the wire.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if !strings.HasPrefix(o.Endpoint, "http://") {
			// Over TLS, which protects the body, skip SigV4's SHA-256 of
			// every part (measured 25% of a put's time on MinIO); over
			// plain HTTP the signed hash is the body's only protection.
			so.APIOptions = append(so.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		}
	})
	s := &Store{
		client: client, bucket: o.Bucket, layout: l, partSize: o.PartSize, expiry: o.RedirectExpiry,
		copyPart: copyPartSize, maxParts: maxParts,
	}
	s.presign = s3.NewPresignClient(client, s3.WithPresignExpires(o.RedirectExpiry))
	s.bufs = newBufferPool(int(s.partSize), time.Now)
	s.partBufs = int(max(1, o.MaxPartSize/o.PartSize))
	s.bufBudget = max(0, o.PartBudget/o.PartSize)
	return s, nil
}

// awsConfig resolves region, credentials and the HTTP client.
func awsConfig(ctx context.Context, o Options) (aws.Config, error) {
	hc, err := httpClient(o)
	if err != nil {
		return aws.Config{}, err
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(hc)}
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("s3blob: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	return cfg, nil
}

// httpClient is the SDK's client with the TLS settings and enough idle
// connections for parallel part uploads and copies.
func httpClient(o Options) (*awshttp.BuildableClient, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in for labs
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3blob: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3blob: CA file %s holds no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = tc
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
	}), nil
}

// Ping checks that the bucket exists and the credentials may use it.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return s.fail(ctx, "bucket "+s.bucket, err)
	}
	return nil
}

// String names the store for logs: no credentials.
func (s *Store) String() string {
	return "s3://" + s.bucket + "/" + s.layout.prefix
}

// Stat returns the size of a committed blob.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b, err := s.resolve(ctx, d)
	return b.size, err
}

// Open returns a reader over a committed blob. Bytes are fetched lazily
// with ranged GETs from the read position, so a Seek costs nothing until
// the next Read.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blobstore.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := s.resolve(ctx, d)
	if err != nil {
		return nil, err
	}
	return &objectReader{ctx: ctx, s: s, key: b.key, size: b.size}, nil
}

// Delete removes a committed blob: its object, or the data object its link
// names (and the commit's claim on it) and then the link. The link goes
// last so that a Delete that fails half-way is retried from the link: gone
// first, it would leave its data object named by nothing, never deleted.
// S3 deletes of missing keys succeed.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, err := s.layout.blobKey(d)
	if err != nil {
		return err
	}
	b, err := s.resolve(ctx, d)
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		return nil
	case errors.Is(err, errBadLink):
		b.link = false // remove the unreadable link alone
	case err != nil:
		return err
	}
	var keys []string
	if b.link {
		id, name, _ := strings.Cut(b.ref, "/")
		claim, _ := s.layout.releasedPrefix(id)
		keys = append(keys, b.key, claim+name)
	}
	keys = append(keys, key)
	for _, k := range keys {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k}); err != nil && !isNotFound(err) {
			return s.fail(ctx, "delete "+d.String(), err)
		}
	}
	return nil
}

// walkHeads is how many HEADs of empty objects (links, or empty blobs)
// Walk runs at once to learn their sizes.
const walkHeads = 16

// Walk lists committed blobs page by page (1,000 keys a request). Keys
// under blobs/ that are not blob keys are skipped. A listed object of no
// bytes is a link or an empty blob: a HEAD tells which, and a link's size.
func (s *Store) Walk(ctx context.Context, fn func(blobstore.BlobInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := s.layout.blobsPrefix()
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail(ctx, "list blobs", err)
		}
		var infos []blobstore.BlobInfo
		var empty []int
		for _, o := range page.Contents {
			d, ok := s.layout.blobDigest(aws.ToString(o.Key))
			if !ok {
				continue
			}
			// LastModified is when the object was written: the commit's
			// copy or link, so a blob's age counts from its commit.
			if aws.ToInt64(o.Size) == 0 {
				empty = append(empty, len(infos))
			}
			infos = append(infos, blobstore.BlobInfo{Digest: d, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
		if err := s.sizeLinks(ctx, infos, empty); err != nil {
			return err
		}
		for _, info := range infos {
			if info.Size < 0 {
				continue // deleted since the listing
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// sizeLinks HEADs infos[i] for each i in idx, walkHeads at a time, and
// sets the size a link names (-1 for a blob deleted since the listing).
func (s *Store) sizeLinks(ctx context.Context, infos []blobstore.BlobInfo, idx []int) error {
	errs := make([]error, len(idx))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(walkHeads, len(idx)) {
		wg.Go(func() {
			for j := range next {
				info := &infos[idx[j]]
				b, err := s.resolve(ctx, info.Digest)
				switch {
				case errors.Is(err, blobstore.ErrNotFound):
					info.Size = -1
				case errors.Is(err, errBadLink):
					// Reported as listed: an empty object Delete removes.
				case err != nil:
					errs[j] = err
				default:
					info.Size, info.ModTime = b.size, b.modTime
				}
			}
		})
	}
	for j := range idx {
		next <- j
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// RedirectURL presigns a GET of blob d's bytes (the object under its key,
// or the data object its link names), valid for RedirectExpiry.
func (s *Store) RedirectURL(ctx context.Context, d digest.Digest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b, err := s.resolve(ctx, d)
	if err != nil {
		return "", err
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &b.key})
	if err != nil {
		return "", s.fail(ctx, "presign "+d.String(), err)
	}
	return req.URL, nil
}

// fail wraps an SDK error: a canceled context wins (the SDK's own wrapping
// of it varies), a missing key or upload becomes blobstore.ErrNotFound.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("s3blob: %s: %w", op, cerr)
	}
	if isNotFound(err) {
		return fmt.Errorf("s3blob: %s: %w (%v)", op, blobstore.ErrNotFound, err)
	}
	return fmt.Errorf("s3blob: %s: %w", op, err)
}

// isNotFound reports a missing key or multipart upload. A missing bucket
// is not "not found": it is a configuration error.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nsu) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !errors.As(err, &ae)
}

// isPreconditionFailed reports an If-Match that did not match.
func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}
