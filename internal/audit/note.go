package audit

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
)

// Note is what a front end tells the trail about the call it serves. The
// middleware puts one in each request's context (NoteFrom finds it); a
// front end that finds none (auditing off) calls its methods on nil, which
// do nothing. A Note belongs to one request and is not safe for concurrent
// use.
type Note struct {
	source, name string
	readOnly     bool
	onlyDenied   bool // record only when denied (a /v2 read that is no pull)
	denied       bool
	who          auth.Principal
	haveWho      bool
	accessKeyID  string // the key of a request that failed authentication
	params       json.RawMessage
	paramsFn     func() map[string]any // builds params when the call is recorded
	response     json.RawMessage
	errorCode    string
	errorMessage string
	resources    []Resource
}

type noteKey struct{}

// WithNote returns ctx carrying n.
func WithNote(ctx context.Context, n *Note) context.Context {
	return context.WithValue(ctx, noteKey{}, n)
}

// NoteFrom returns the request's Note, or nil when auditing is off.
func NoteFrom(ctx context.Context) *Note {
	n, _ := ctx.Value(noteKey{}).(*Note)
	return n
}

// Call names the call: its event source (SourceECR, ...) and name, and
// whether it only reads.
func (n *Note) Call(source, name string, readOnly bool) {
	if n == nil {
		return
	}
	n.source, n.name, n.readOnly = source, name, readOnly
}

// OnlyIfDenied records the call only if it is denied: /v2 reads that are
// not pulls (HEAD, listings, the /v2/ check).
func (n *Note) OnlyIfDenied() {
	if n != nil {
		n.onlyDenied = true
	}
}

// Principal records who the call was authenticated as.
func (n *Note) Principal(p auth.Principal) {
	if n != nil {
		n.who, n.haveWho = p, true
	}
}

// AuthFailed records a failed authentication with the Authorization header
// sent; the access key id of a SigV4 signature is kept, nothing else.
func (n *Note) AuthFailed(authorization string) {
	if n == nil {
		return
	}
	n.denied = true
	if _, rest, ok := strings.Cut(authorization, "Credential="); ok {
		key, _, _ := strings.Cut(rest, "/")
		if len(key) <= 128 {
			n.accessKeyID = key
		}
	}
}

// RequestJSON records a JSON request body as the request parameters;
// secrets and payloads are removed at once.
func (n *Note) RequestJSON(body []byte) {
	if n != nil {
		n.params = redactJSON(body)
	}
}

// RequestForm records a query-protocol form as the request parameters.
func (n *Note) RequestForm(form url.Values) {
	if n != nil {
		n.params = queryParams(form)
	}
}

// RequestFunc records the request parameters as f's result, built only if
// the call is recorded: most /v2 reads are not. The result is a decoded
// JSON tree (map[string]any, []any, string, ...), redacted in place.
func (n *Note) RequestFunc(f func() map[string]any) {
	if n != nil {
		n.paramsFn = f
	}
}

// requestParameters are the parameters recorded, built if need be.
func (n *Note) requestParameters() json.RawMessage {
	if n.params == nil && n.paramsFn != nil {
		n.params = mustJSON(redactValue(n.paramsFn()))
	}
	return n.params
}

// ResponseJSON records a JSON response as the response elements. Read-only
// calls keep none, as in CloudTrail.
func (n *Note) ResponseJSON(body []byte) {
	if n != nil && !n.readOnly {
		n.response = redactJSON(body)
	}
}

// StringParam returns a top-level string request parameter, "" when the
// parameters have none (or auditing is off).
func (n *Note) StringParam(key string) string {
	if n == nil || len(n.params) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	var s string
	if json.Unmarshal(n.params, &m) != nil || json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return s
}

// Response records v (encoded as JSON, fields renamed lower-camel) as the
// response elements, unless the call is read-only.
func (n *Note) Response(v any) {
	if n == nil || n.readOnly || v == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	var tree any
	if json.Unmarshal(b, &tree) == nil {
		n.response = redactAny(lowerCamel(tree))
	}
}

// ResponseFields records fields (a decoded JSON tree, already named as
// CloudTrail names them) as the response elements, unless the call is
// read-only.
func (n *Note) ResponseFields(fields map[string]any) {
	if n != nil && !n.readOnly {
		n.response = mustJSON(redactValue(fields))
	}
}

// Fail records the call's error: its wire code and message. Denied marks
// an authorization failure (recorded even for OnlyIfDenied calls).
func (n *Note) Fail(code, message string, denied bool) {
	if n == nil {
		return
	}
	n.errorCode, n.errorMessage = code, message
	if denied {
		n.denied = true
	}
}

// Resource adds a resource the call concerned.
func (n *Note) Resource(arn, account, typ string) {
	if n != nil && arn != "" {
		n.resources = append(n.resources, Resource{ARN: arn, AccountID: account, Type: typ})
	}
}

// recordable reports whether the note names a call to record.
func (n *Note) recordable() bool {
	return n.name != "" && (!n.onlyDenied || n.denied)
}
