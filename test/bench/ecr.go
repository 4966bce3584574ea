package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// The ECR control-plane scenarios run against Berth only: the reference
// registry has no ECR API, so their rows have no reference column and an
// informational target.
const (
	ecrRegion  = "us-east-1"
	ecrService = "ecr"
	ecrImages  = 50  // tagged images in repoECR
	ecrPage    = 100 // DescribeImages maxResults: one page holds them all
	// signCalibration is how long one goroutine signs requests, after each
	// repetition, to measure the client's signing CPU alone.
	signCalibration = 100 * time.Millisecond
	// groupRegistryAuth interleaves the token-authenticated manifest HEAD
	// with the same HEAD authenticated by the access key.
	groupRegistryAuth = "registry-auth"
)

// ecrCall is one ECR API request exactly as aws-sdk-go-v2's ECR client
// sends it (captured once from a real SDK call in prepare: URL, headers,
// serialized body), replayed with a fresh SigV4 signature every time, so
// the load generator spends nothing on the SDK's middleware but signs as
// the SDK does.
type ecrCall struct {
	tmpl *http.Request // POST /, the SDK's headers without the signature; Header shared read-only
	body []byte
	want int64 // response body bytes; < 0: any
}

// request returns a copy of the call ready to sign: a fresh header map
// (the signer writes into it) and body.
func (c *ecrCall) request() *http.Request {
	req := *c.tmpl
	req.Header = c.tmpl.Header.Clone()
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(c.body)), int64(len(c.body))
	return &req
}

// sign does what the SDK's signing middleware does: hash the payload and
// sign with SigV4 at this instant.
func (b *bench) sign(t *target, req *http.Request, body []byte) error {
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: t.keyID, SecretAccessKey: t.secret, Source: "bench"}
	return b.signer.SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), ecrService, ecrRegion, time.Now())
}

// ecrDo signs and sends one call and checks the answer.
func (b *bench) ecrDo(t *target, c *ecrCall, rbuf []byte) error {
	req := c.request()
	if err := b.sign(t, req, c.body); err != nil {
		return err
	}
	resp, err := t.tr.RoundTrip(req)
	n, err := expect(resp, err, http.StatusOK, rbuf)
	if err == nil && c.want >= 0 && n != c.want {
		err = fmt.Errorf("%s: %d body bytes, want %d", req.Header.Get("X-Amz-Target"), n, c.want)
	}
	return err
}

// ecrOp replays calls round robin, each worker from its own offset.
func (b *bench) ecrOp(t *target, w int, calls []*ecrCall) (opFunc, error) {
	if len(calls) == 0 {
		return nil, fmt.Errorf("%s: no ECR request prepared", t.name)
	}
	rbuf := make([]byte, 64<<10)
	k := (w * 37) % len(calls)
	return func() error {
		c := calls[k]
		k = (k + 1) % len(calls)
		return b.ecrDo(t, c, rbuf)
	}, nil
}

// signCost returns the client CPU, in µs, of copying one of calls'
// requests and signing it (payload SHA-256 + SigV4), measured alone: one
// goroutine signs for signCalibration while nothing else in this program
// runs, so this process's CPU over the loop is the signer's, allocation and
// GC included.
func (b *bench) signCost(t *target, calls []*ecrCall) (float64, error) {
	if len(calls) == 0 {
		return 0, fmt.Errorf("%s: no ECR request prepared", t.name)
	}
	cpu0, start := selfCPU(), time.Now()
	n := 0
	for n%64 != 0 || time.Since(start) < signCalibration {
		c := calls[n%len(calls)]
		if err := b.sign(t, c.request(), c.body); err != nil {
			return 0, err
		}
		n++
	}
	return (selfCPU() - cpu0).Seconds() * 1e6 / float64(n), nil
}

// ecrScenario measures ops/s of -concurrency clients replaying the calls
// capture prepares (Berth only), and after each repetition the client's
// signing CPU per request.
func (b *bench) ecrScenario(key, title string, capture func(context.Context, *target) ([]*ecrCall, error)) *scenario {
	sc := b.rateScenario(key, title, rule{info: true},
		func(ctx context.Context, t *target) error {
			calls, err := capture(ctx, t)
			b.ecrCalls[key] = calls
			if err == nil && len(calls) > 0 {
				fmt.Fprintf(b.log, "bench: %s: %d request(s) as the SDK sends them; the first: %d-byte body, answer %s\n",
					title, len(calls), len(calls[0].body), answerSize(calls[0].want))
			}
			return err
		},
		func(_ context.Context, t *target, w int) (opFunc, error) { return b.ecrOp(t, w, b.ecrCalls[key]) }, false)
	sc.berthOnly = true
	measure := sc.measure
	sc.measure = func(ctx context.Context, t *target, rep int) (sample, error) {
		s, err := measure(ctx, t, rep)
		if err != nil {
			return s, err
		}
		s.ClientSignUs, err = b.signCost(t, b.ecrCalls[key])
		return s, err
	}
	return sc
}

// answerSize describes a call's expected answer size for the log.
func answerSize(n int64) string {
	if n < 0 {
		return "of variable size"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// recorder is the SDK client's HTTP client: it sends through the target's
// transport and keeps the last request and its body for capture.
type recorder struct {
	tr   http.RoundTripper
	req  *http.Request
	body []byte
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.req, r.body = req, body
	return r.tr.RoundTrip(req)
}

// ecrClient is the AWS SDK's ECR client for t: endpoint override, Berth's
// root key, retries off (a failure fails the run instead of being retried).
func (t *target) ecrClient(rec *recorder) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       ecrRegion,
		BaseEndpoint: aws.String(t.base),
		Credentials:  credentials.NewStaticCredentialsProvider(t.keyID, t.secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   rec,
	})
}

// capture turns the request the SDK last sent into a call and replays it
// once to learn the size of its answer (checked on every later call when
// exact).
func (b *bench) capture(ctx context.Context, t *target, rec *recorder, exact bool) (*ecrCall, error) {
	if rec.req == nil {
		return nil, errors.New("the SDK sent no request")
	}
	tmpl, err := http.NewRequestWithContext(ctx, rec.req.Method, rec.req.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	tmpl.Header = rec.req.Header.Clone()
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Length"} {
		tmpl.Header.Del(k)
	}
	c := &ecrCall{tmpl: tmpl, body: rec.body, want: -1}
	if !exact {
		return c, b.ecrDo(t, c, make([]byte, 64<<10))
	}
	req := c.request()
	if err := b.sign(t, req, c.body); err != nil {
		return nil, err
	}
	resp, err := t.tr.RoundTrip(req)
	c.want, err = expect(resp, err, http.StatusOK, make([]byte, 64<<10))
	return c, err
}

// prepareECRImages pushes ecrImages manifests tagged e0, e1, ... over /v2
// (once); the repository is created on push.
func (b *bench) prepareECRImages(ctx context.Context, t *target) error {
	if b.ecrPushed {
		return nil
	}
	if err := b.pushManifestBlobs(ctx, t, repoECR); err != nil {
		return err
	}
	body := b.manifest.newBuf()
	for i := range ecrImages {
		b.manifest.render(b.seq.Add(1), body)
		if err := t.putManifest(ctx, repoECR, "e"+strconv.Itoa(i), body); err != nil {
			return err
		}
	}
	b.ecrPushed = true
	return nil
}

// describeImagesCalls: DescribeImages of the whole repository in one page.
func (b *bench) describeImagesCalls(ctx context.Context, t *target) ([]*ecrCall, error) {
	if err := b.prepareECRImages(ctx, t); err != nil {
		return nil, err
	}
	rec := &recorder{tr: t.tr}
	out, err := t.ecrClient(rec).DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(repoECR), MaxResults: aws.Int32(ecrPage),
	})
	if err != nil {
		return nil, fmt.Errorf("DescribeImages: %w", err)
	}
	if len(out.ImageDetails) != ecrImages || out.NextToken != nil {
		return nil, fmt.Errorf("DescribeImages: %d images (next token %v), want %d in one page",
			len(out.ImageDetails), out.NextToken != nil, ecrImages)
	}
	c, err := b.capture(ctx, t, rec, true)
	return []*ecrCall{c}, err
}

// batchGetImageCalls: BatchGetImage of one image by tag, one call per tag.
func (b *bench) batchGetImageCalls(ctx context.Context, t *target) ([]*ecrCall, error) {
	if err := b.prepareECRImages(ctx, t); err != nil {
		return nil, err
	}
	rec := &recorder{tr: t.tr}
	client := t.ecrClient(rec)
	var calls []*ecrCall
	for i := range ecrImages {
		tag := "e" + strconv.Itoa(i)
		out, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RepositoryName:     aws.String(repoECR),
			ImageIds:           []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
			AcceptedMediaTypes: []string{mediaManifest},
		})
		if err != nil {
			return nil, fmt.Errorf("BatchGetImage %s: %w", tag, err)
		}
		if len(out.Images) != 1 || len(out.Failures) != 0 || len(aws.ToString(out.Images[0].ImageManifest)) != len(b.manifest.body) {
			return nil, fmt.Errorf("BatchGetImage %s: %d images, %d failures, want its %d-byte manifest",
				tag, len(out.Images), len(out.Failures), len(b.manifest.body))
		}
		c, err := b.capture(ctx, t, rec, true)
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// authorizationToken returns GetAuthorizationToken's token, base64 of
// "AWS:<password>", checked; docker's credential helper sends it as
// `Authorization: Basic <token>`.
func authorizationToken(ctx context.Context, client *ecr.Client) (string, error) {
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return "", fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return "", errors.New("GetAuthorizationToken: no authorization data")
	}
	tok := aws.ToString(out.AuthorizationData[0].AuthorizationToken)
	dec, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(dec), "AWS:") || strings.Contains(string(dec[4:]), ":") {
		return "", errors.New("GetAuthorizationToken: the token is not base64 of AWS:<colon-free password>")
	}
	return tok, nil
}

// authorizationTokenCalls: GetAuthorizationToken (mints a password).
func (b *bench) authorizationTokenCalls(ctx context.Context, t *target) ([]*ecrCall, error) {
	rec := &recorder{tr: t.tr}
	if _, err := authorizationToken(ctx, t.ecrClient(rec)); err != nil {
		return nil, err
	}
	c, err := b.capture(ctx, t, rec, false) // the answer's size is not promised to stay the same
	return []*ecrCall{c}, err
}

// tokenAuthScenarios are the manifest HEAD by tag of manifest_head_tag,
// on Berth, authenticated with a registry password from
// GetAuthorizationToken, and the same HEAD with the access key: one group,
// so repetitions interleave and the difference is the cost of verifying
// the password instead of the key.
func (b *bench) tokenAuthScenarios() []*scenario {
	head := b.manifestOp(http.MethodHead)
	token := b.rateScenario("ecr_token_registry_auth", "manifest HEAD by tag, ECR token auth", rule{info: true},
		func(ctx context.Context, t *target) error {
			if err := b.prepareTags(ctx, t); err != nil {
				return err
			}
			tok, err := authorizationToken(ctx, t.ecrClient(&recorder{tr: t.tr}))
			b.ecrToken = "Basic " + tok
			return err
		},
		func(ctx context.Context, t *target, w int) (opFunc, error) {
			tt := *t
			tt.auth = b.ecrToken
			return head(ctx, &tt, w)
		}, false)
	key := b.rateScenario("ecr_key_registry_auth", "manifest HEAD by tag, access-key auth", rule{info: true},
		b.prepareTags, head, false)
	for _, sc := range []*scenario{token, key} {
		sc.berthOnly, sc.group = true, groupRegistryAuth
	}
	return []*scenario{token, key}
}
