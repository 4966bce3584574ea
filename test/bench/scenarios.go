package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Repositories, one per scenario so they do not disturb each other.
const (
	repoProbe     = "bench/probe"
	repoLarge     = "bench/large"
	repoRSS       = "bench/rss"
	repoPushMono  = "bench/push-mono"
	repoPushTwo   = "bench/push-post-put"
	repoPull      = "bench/pull"
	repoManifests = "bench/manifest-push"
	repoTags      = "bench/tags"
	repoECR       = "bench/ecr-images"

	pullBlobs   = 256 // distinct small blobs the pull scenario cycles through
	tagCount    = 64  // tags the HEAD/GET scenarios cycle through
	largeWarmup = 64 << 20
)

// scenario is one metric: how to prepare each target (untimed, once), warm
// it up, and measure one repetition.
type scenario struct {
	key, title, unit string
	rule             rule
	limit            bool           // also measured against the physical limit
	once             bool           // one repetition, no warm-up
	berthOnly        bool           // Berth only (the reference has no such API): no reference or limit column
	group            string         // a group's scenarios are measured interleaved, rep by rep; -only naming one runs all
	only             func() *target // measured on this Berth process alone (its figures count as Berth's)
	prepare          func(ctx context.Context, t *target) error
	warm             func(ctx context.Context, t *target) error
	measure          func(ctx context.Context, t *target, rep int) (sample, error)
}

// bench holds what the scenarios share.
type bench struct {
	o          *options
	log        io.Writer
	nonce      string
	block      []byte // repeating content of large streams
	pool       *blobPool
	manifest   manifestTemplate
	seq        atomic.Uint64         // manifest sequence numbers, unique in the run
	large      map[string]string     // target → digest (limit: file name) of its large blob
	pullURLs   map[string][]*url.URL // target → small blobs to pull
	tagURLs    map[string][]*url.URL // target → tagged manifests
	signer     *v4.Signer            // SigV4 signer of the ECR calls, shared as the SDK client shares its own
	ecrCalls   map[string][]*ecrCall // scenario key → ECR requests to replay (Berth only)
	ecrToken   string                // Authorization from GetAuthorizationToken: Basic base64(AWS:<password>)
	ecrPushed  bool                  // repoECR holds its images (Berth only)
	authzAuth  string                // Authorization of the IAM user of the authz scenarios: Basic key id:secret
	authzTried bool                  // the authz scenarios' set-up ran (authzAuth empty: it failed)
	berthBin   string                // the Berth binary (admin commands)
	events     eventTargets          // the Berth processes of the events scenarios
}

func (b *bench) scenarios() []*scenario {
	all := []*scenario{
		b.largePushScenario(),
		b.largePullScenario(),
		b.rateScenario("small_push_monolithic", "small-blob push, POST ?digest=", rule{against: targetReference, ratio: 2},
			nil, b.monolithicOp, true),
		b.rateScenario("small_push_post_put", "small-blob push, POST + PUT", rule{against: targetReference, ratio: 2},
			nil, func(ctx context.Context, t *target, _ int) (opFunc, error) { return b.postPutOp(ctx, t, repoPushTwo) }, true),
		b.rateScenario("small_pull", "small-blob pull, GET", rule{against: targetReference, ratio: 2},
			b.preparePull, b.pullOp, false),
		b.rateScenario("manifest_push", "manifest push, PUT by new tag", rule{against: targetReference, ratio: 2},
			func(ctx context.Context, t *target) error { return b.pushManifestBlobs(ctx, t, repoManifests) },
			b.manifestPushOp, false),
		b.rateScenario("manifest_head_tag", "manifest HEAD by tag", rule{against: targetReference, ratio: 3},
			b.prepareTags, b.manifestOp(http.MethodHead), false),
		b.rateScenario("manifest_get_tag", "manifest GET by tag", rule{against: targetReference, ratio: 3},
			b.prepareTags, b.manifestOp(http.MethodGet), false),
		b.ecrScenario("ecr_describe_images", fmt.Sprintf("ECR DescribeImages, %d images, max %d", ecrImages, ecrPage),
			b.describeImagesCalls),
		b.ecrScenario("ecr_batch_get_image", fmt.Sprintf("ECR BatchGetImage 1 tag, %d B manifest", len(b.manifest.body)),
			b.batchGetImageCalls),
		b.ecrScenario("ecr_get_authorization_token", "ECR GetAuthorizationToken (mint)", b.authorizationTokenCalls),
	}
	all = append(all, b.tokenAuthScenarios()...)
	all = append(all, b.authzScenarios()...)
	all = append(all, b.eventScenarios()...)
	return append(all, b.rssScenario())
}

// rateScenario measures ops/s of -concurrency workers running newOp's
// operations for -duration. With reserve, blob digests are precomputed for
// 1.5x the best rate seen so far.
func (b *bench) rateScenario(key, title string, rl rule, prepare func(context.Context, *target) error,
	newOp func(context.Context, *target, int) (opFunc, error), reserve bool) *scenario {
	var best float64
	run := func(ctx context.Context, t *target, d time.Duration) (sample, error) {
		if reserve {
			b.pool.reserve(int(max(best, 1000)*d.Seconds()*1.5) + 4*b.o.concurrency)
		}
		s, err := runLoad(ctx, t, d, b.o.concurrency, func(w int) (opFunc, error) { return newOp(ctx, t, w) })
		if err == nil {
			best = max(best, s.Value)
		}
		return s, err
	}
	return &scenario{
		key: key, title: title, unit: "ops/s", rule: rl, prepare: prepare,
		warm: func(ctx context.Context, t *target) error {
			_, err := run(ctx, t, b.o.warmup)
			return err
		},
		measure: func(ctx context.Context, t *target, _ int) (sample, error) { return run(ctx, t, b.o.duration) },
	}
}

// monolithicOp pushes one new blob with POST ?digest= and its body; for a
// target without monolithic uploads it falls back to POST + PUT, as a
// client following the spec must.
func (b *bench) monolithicOp(ctx context.Context, t *target, _ int) (opFunc, error) {
	if !t.monolithic {
		return b.postPutOp(ctx, t, repoPushMono)
	}
	tmpl, err := t.template(ctx, http.MethodPost, "/v2/"+repoPushMono+"/blobs/uploads/",
		http.Header{"Content-Type": {mediaOctet}})
	if err != nil {
		return nil, err
	}
	body, rbuf := b.pool.newBuf(), make([]byte, 4<<10)
	return func() error {
		i := b.pool.take()
		b.pool.header(i, body)
		req, u := *tmpl, *tmpl.URL
		u.RawQuery = b.pool.query(i, body)
		req.URL, req.Body, req.ContentLength = &u, io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := t.tr.RoundTrip(&req)
		_, err = expect(resp, err, http.StatusCreated, rbuf)
		return err
	}, nil
}

// postPutOp pushes one new blob as docker does for small layers: POST to
// open a session, PUT ?digest= with the whole body.
func (b *bench) postPutOp(ctx context.Context, t *target, repo string) (opFunc, error) {
	post, err := t.template(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return nil, err
	}
	put, err := t.template(ctx, http.MethodPut, "/v2/"+repo+"/blobs/uploads/", http.Header{"Content-Type": {mediaOctet}})
	if err != nil {
		return nil, err
	}
	body, rbuf := b.pool.newBuf(), make([]byte, 4<<10)
	return func() error {
		i := b.pool.take()
		b.pool.header(i, body)
		req := *post
		resp, err := t.tr.RoundTrip(&req)
		if _, err := expect(resp, err, http.StatusAccepted, rbuf); err != nil {
			return err
		}
		loc, err := t.resolve(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		u, err := url.Parse(withDigest(loc, b.pool.digest(i, body)))
		if err != nil {
			return err
		}
		req = *put
		req.URL, req.Host = u, u.Host
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err = t.tr.RoundTrip(&req)
		_, err = expect(resp, err, http.StatusCreated, rbuf)
		return err
	}, nil
}

// preparePull pushes the blobs the pull scenario reads.
func (b *bench) preparePull(ctx context.Context, t *target) error {
	buf := b.pool.newBuf()
	b.pool.reserve(pullBlobs)
	var urls []*url.URL
	for range pullBlobs {
		i := b.pool.take()
		b.pool.header(i, buf)
		d := b.pool.digest(i, buf)
		if err := t.pushBlob(ctx, repoPull, d, buf); err != nil {
			return err
		}
		u, err := url.Parse(t.base + "/v2/" + repoPull + "/blobs/" + d)
		if err != nil {
			return err
		}
		urls = append(urls, u)
	}
	b.pullURLs[t.name] = urls
	return nil
}

// cycleOp GETs or HEADs urls round robin (each worker from its own
// offset) and checks the body size (want < 0: any).
func cycleOp(ctx context.Context, t *target, w int, method string, urls []*url.URL, h http.Header, want int64) (opFunc, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s: nothing prepared to read", t.name)
	}
	tmpl, err := t.template(ctx, method, urls[0].Path, h)
	if err != nil {
		return nil, err
	}
	rbuf := make([]byte, 64<<10)
	k := (w * 37) % len(urls)
	return func() error {
		req := *tmpl
		req.URL = urls[k]
		k = (k + 1) % len(urls)
		resp, err := t.tr.RoundTrip(&req)
		n, err := expect(resp, err, http.StatusOK, rbuf)
		if err == nil && want >= 0 && n != want {
			err = fmt.Errorf("%s %s: %d body bytes, want %d", method, req.URL.Path, n, want)
		}
		return err
	}, nil
}

func (b *bench) pullOp(ctx context.Context, t *target, w int) (opFunc, error) {
	return cycleOp(ctx, t, w, http.MethodGet, b.pullURLs[t.name], nil, b.o.smallSize)
}

// pushManifestBlobs pushes the config and layer every manifest references.
func (b *bench) pushManifestBlobs(ctx context.Context, t *target, repo string) error {
	if err := t.pushBlob(ctx, repo, b.manifest.layerDigest, b.manifest.layer); err != nil {
		return err
	}
	return t.pushBlob(ctx, repo, b.manifest.configDigest, b.manifest.config)
}

// manifestPushOp PUTs a new manifest under a new tag.
func (b *bench) manifestPushOp(ctx context.Context, t *target, _ int) (opFunc, error) {
	prefix := "/v2/" + repoManifests + "/manifests/"
	tmpl, err := t.template(ctx, http.MethodPut, prefix+"p0", http.Header{"Content-Type": {mediaManifest}})
	if err != nil {
		return nil, err
	}
	body, rbuf := b.manifest.newBuf(), make([]byte, 4<<10)
	return func() error {
		seq := b.seq.Add(1)
		b.manifest.render(seq, body)
		req, u := *tmpl, *tmpl.URL
		u.Path = prefix + "p" + strconv.FormatUint(seq, 10)
		req.URL, req.Body, req.ContentLength = &u, io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := t.tr.RoundTrip(&req)
		_, err = expect(resp, err, http.StatusCreated, rbuf)
		return err
	}, nil
}

// prepareTags pushes tagCount manifests tagged r0, r1, ... (once).
func (b *bench) prepareTags(ctx context.Context, t *target) error {
	if len(b.tagURLs[t.name]) > 0 {
		return nil
	}
	if err := b.pushManifestBlobs(ctx, t, repoTags); err != nil {
		return err
	}
	body := b.manifest.newBuf()
	var urls []*url.URL
	for i := range tagCount {
		b.manifest.render(b.seq.Add(1), body)
		tag := "r" + strconv.Itoa(i)
		if err := t.putManifest(ctx, repoTags, tag, body); err != nil {
			return err
		}
		u, err := url.Parse(t.base + "/v2/" + repoTags + "/manifests/" + tag)
		if err != nil {
			return err
		}
		urls = append(urls, u)
	}
	b.tagURLs[t.name] = urls
	return nil
}

func (b *bench) manifestOp(method string) func(context.Context, *target, int) (opFunc, error) {
	want := int64(len(b.manifest.body))
	if method == http.MethodHead {
		want = 0
	}
	h := http.Header{"Accept": {acceptAll}}
	return func(ctx context.Context, t *target, w int) (opFunc, error) {
		return cycleOp(ctx, t, w, method, b.tagURLs[t.name], h, want)
	}
}
