package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm   = "AWS4-HMAC-SHA256"
	terminator  = "aws4_request"
	timeFormat  = "20060102T150405Z"
	dateFormat  = "20060102"
	maxExpires  = 7 * 24 * time.Hour
	unsignedPay = "UNSIGNED-PAYLOAD"
)

// Parsed is what a request claims before verification.
type Parsed struct {
	AccessKeyID string
	Date        string // credential scope date, yyyymmdd
	Region      string
	Service     string
	Terminator  string // credential scope terminator; acceptable only as "aws4_request"
	// SignedHeaders are the signed header names, lower-cased, in the
	// client's order.
	SignedHeaders []string
	Signature     string // lower-case hex as sent
	Time          time.Time
	Presigned     bool
	// Expires is X-Amz-Expires (presigned only); zero when absent, in
	// which case the verifier's skew bounds the URL's life.
	Expires time.Duration
	// PayloadHash is the x-amz-content-sha256 claim (header, or query
	// parameter when presigned); empty when absent.
	PayloadHash string
	// SecurityToken is X-Amz-Security-Token. Berth issues no session
	// tokens, so a front end rejects a non-empty one as an unknown client.
	SecurityToken string

	amzDate       string // the timestamp as it enters the string to sign
	dateHeader    string // header form: the header that carried Time
	signedHeaders string // SignedHeaders as sent, lower-cased
	hasExpires    bool
}

// Parse extracts the SigV4 claims of a request, from its Authorization
// header or from presigned query parameters. It checks syntax only.
func Parse(r *http.Request) (*Parsed, error) {
	auth := r.Header.Get("Authorization")
	var query []queryPair
	if r.URL != nil && r.URL.RawQuery != "" {
		query = parseQuery(r.URL.RawQuery)
	}
	_, presigned := lookup(query, "X-Amz-Algorithm")
	switch {
	case auth != "" && presigned:
		return nil, fail(ErrInvalidSignature, msgBothAuthForms)
	case presigned:
		return parsePresigned(query)
	case !strings.HasPrefix(strings.TrimSpace(auth), "AWS4-"):
		return nil, fail(ErrMissingAuth, msgMissingAuth)
	}
	return parseHeader(r, strings.TrimSpace(auth))
}

func parseHeader(r *http.Request, auth string) (*Parsed, error) {
	alg, rest, _ := strings.Cut(auth, " ")
	names := [...]string{"Credential", "Signature", "SignedHeaders"}
	var params [len(names)]string
	for rest != "" {
		field := rest
		if i := strings.IndexAny(rest, ", "); i >= 0 {
			field, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fail(ErrMalformed, "'"+field+"' not a valid key=value pair (missing equal-sign) in Authorization header: '"+auth+"'.")
		}
		if i := slices.Index(names[:], k); i >= 0 && params[i] == "" {
			params[i] = v
		}
	}
	p := &Parsed{dateHeader: "x-amz-date"}
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		if date = r.Header.Get("Date"); date != "" {
			p.dateHeader = "date"
		}
	}
	var msg strings.Builder
	for i, k := range names {
		if params[i] == "" {
			msg.WriteString("Authorization header requires '" + k + "' parameter. ")
		}
	}
	if date == "" {
		msg.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if msg.Len() > 0 {
		return nil, fail(ErrMalformed, msg.String()+"Authorization="+auth)
	}
	if err := p.fill(alg, params[0], params[2], params[1]); err != nil {
		return nil, err
	}
	if err := p.setTime(date); err != nil {
		return nil, err
	}
	p.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	p.SecurityToken = r.Header.Get("X-Amz-Security-Token")
	return p, nil
}

func parsePresigned(query []queryPair) (*Parsed, error) {
	params := map[string]string{}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date",
		"X-Amz-Expires", "X-Amz-Content-Sha256", "X-Amz-Security-Token"} {
		params[k], _ = lookup(query, k)
	}
	var msg strings.Builder
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if params[k] == "" {
			msg.WriteString("AWS query-string parameters must include '" + k + "'. ")
		}
	}
	if msg.Len() > 0 {
		return nil, fail(ErrMalformed, msg.String()+"Re-examine the query-string parameters.")
	}
	p := &Parsed{Presigned: true}
	if err := p.fill(params["X-Amz-Algorithm"], params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"]); err != nil {
		return nil, err
	}
	if err := p.setTime(params["X-Amz-Date"]); err != nil {
		return nil, err
	}
	if s, ok := lookup(query, "X-Amz-Expires"); ok {
		if !isDigits(strings.TrimPrefix(s, "-")) {
			return nil, fail(ErrMalformed, "X-Amz-Expires should be a number")
		}
		if strings.HasPrefix(s, "-") {
			return nil, fail(ErrMalformed, "X-Amz-Expires must be non-negative")
		}
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs > int64(maxExpires/time.Second) {
			return nil, fail(ErrMalformed, msgMaxExpires)
		}
		p.Expires, p.hasExpires = time.Duration(secs)*time.Second, true
	}
	p.PayloadHash = params["X-Amz-Content-Sha256"]
	p.SecurityToken = params["X-Amz-Security-Token"]
	return p, nil
}

// fill checks the algorithm and splits the credential and signed headers.
func (p *Parsed) fill(alg, credential, signedHeaders, signature string) error {
	if alg != algorithm {
		return fail(ErrMalformed, "Unsupported AWS 'algorithm': '"+alg+"' (only AWS4-HMAC-SHA256 for now). ")
	}
	parts := strings.Split(credential, "/")
	if len(parts) != 5 {
		return fail(ErrMalformed, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"+credential+"'")
	}
	p.AccessKeyID, p.Date, p.Region, p.Service, p.Terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	p.signedHeaders = strings.ToLower(signedHeaders) // canonical names are lower case
	p.SignedHeaders = strings.Split(p.signedHeaders, ";")
	p.Signature = signature
	return nil
}

// setTime reads X-Amz-Date (ISO 8601 basic) or, for the Date header, an
// HTTP date.
func (p *Parsed) setTime(s string) error {
	t, err := time.Parse(timeFormat, s)
	if err != nil && p.dateHeader == "date" {
		t, err = http.ParseTime(s)
	}
	if err != nil || (p.dateHeader != "date" && len(s) != len(timeFormat)) {
		return fail(ErrMalformed, "Date must be in ISO-8601 'basic format'. Got '"+s+"'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	p.Time = t.UTC()
	p.amzDate = p.Time.Format(timeFormat)
	return nil
}

// signs reports whether name (lower case) is among the signed headers.
func (p *Parsed) signs(name string) bool {
	return slices.Contains(p.SignedHeaders, name)
}

type queryPair struct{ key, value string }

// parseQuery splits a raw query into decoded pairs, in order. "+" decodes
// to a space, as form encoding has it; an undecodable part stays raw.
func parseQuery(raw string) []queryPair {
	var out []queryPair
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, queryPair{unescape(k), unescape(v)})
	}
	return out
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func lookup(query []queryPair, key string) (string, bool) {
	for _, q := range query {
		if q.key == key {
			return q.value, true
		}
	}
	return "", false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// headerValues returns the values of a header, matching its name without
// regard to case even when the server kept a non-canonical key.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) <= len(buf) {
		key := buf[:len(name)] // the canonical form, built without allocating
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key[i], upper = c, c == '-'
		}
		if v, ok := h[string(key)]; ok {
			return v
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
