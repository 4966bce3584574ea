package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// Webhook request headers. The signature is HMAC-SHA256, keyed with the
// sink's secret, over the timestamp header's value, a '.', and the body:
//
//	Berth-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// A receiver recomputes it, compares in constant time and refuses
// timestamps far from its clock (replays).
const (
	HeaderEventID    = "Berth-Event-Id"
	HeaderTimestamp  = "Berth-Timestamp"
	HeaderSignature  = "Berth-Signature"
	HeaderAttempt    = "Berth-Attempt"
	HeaderDetailType = "Berth-Detail-Type"
)

// Sign returns the Berth-Signature value for a request body sent at
// timestamp (Unix seconds, as in the Berth-Timestamp header).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is Sign(secret, timestamp, body); it
// does not check the timestamp's age.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// sender delivers rendered events to one sink.
type sender interface {
	// send delivers body (the rendered ev); a *permanentError means that
	// retrying cannot help.
	send(ctx context.Context, ev metastore.Event, body []byte, attempt int) error
	close()
}

// permanentError is a failure no retry can fix (the receiver refused the
// event): the event is dead-lettered at once.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// retryError is a transient failure, with the receiver's Retry-After.
type retryError struct {
	msg   string
	after time.Duration
}

func (e *retryError) Error() string { return e.msg }

// webhook POSTs events to a URL.
type webhook struct {
	url     string
	secret  []byte // nil: requests are not signed
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

// maxResponse bounds how much of a receiver's answer is read (and shown in
// an error).
const maxResponse = 64 << 10

func (w *webhook) send(ctx context.Context, ev metastore.Event, body []byte, attempt int) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{msg: "bad webhook URL"}
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Berth-Events/1")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderDetailType, ev.DetailType)
	if w.secret != nil {
		req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The url.Error would repeat the URL, which may carry a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return &retryError{msg: fmt.Sprintf("no answer within %s", w.timeout)}
		}
		return &retryError{msg: err.Error()}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse)) // lets the connection be reused
	return classify(resp, snippet, w.now())
}

// classify maps a webhook answer: 2xx delivered; 408, 429 and 5xx retried
// (after Retry-After when given); anything else, redirects included, is a
// refusal that retrying would repeat.
func classify(resp *http.Response, snippet []byte, now time.Time) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := fmt.Sprintf("HTTP %d", code)
	if len(snippet) > 0 {
		msg += ": " + strconv.Quote(string(snippet))
	}
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		return &retryError{msg: msg, after: retryAfter(resp.Header.Get("Retry-After"), now)}
	}
	return &permanentError{msg: msg}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func (w *webhook) close() {}

// newHTTPClient is the webhook client: no redirects (a receiver must
// answer itself), keep-alive connections shared by all webhook sinks.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SecretAAD is the additional data a sink's signing secret is sealed with,
// binding the ciphertext to the sink it belongs to.
func SecretAAD(accountID, sinkName string) []byte {
	return []byte("event-sink:" + accountID + "/" + sinkName)
}
