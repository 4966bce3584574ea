package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces a secret's value, as CloudTrail does.
const Redacted = "HIDDEN_DUE_TO_SECURITY_REASONS"

// secretKeys name the request and response fields whose values are never
// stored, compared in lower case. Matching is by field name wherever the
// field appears, so a secret nested in a list or object is caught too.
var secretKeys = map[string]bool{
	"authorizationtoken": true, // ECR GetAuthorizationToken
	"secretaccesskey":    true, // IAM CreateAccessKey, STS credentials
	"sessiontoken":       true, // STS credentials
	"password":           true, // IAM login profiles, registry passwords
	"oldpassword":        true, // IAM ChangePassword
	"newpassword":        true,
	"authorization":      true, // an HTTP Authorization header copied into parameters
	"registrypassword":   true,
	"secret":             true, // webhook sink secrets
	"webhooksecret":      true,
	"secretciphertext":   true,
	"privatekey":         true,
}

// bulkyKeys are fields that are no secret but carry payload, not facts
// about the call (an uploaded layer part); their size is kept instead.
var bulkyKeys = map[string]bool{
	"layerpartblob": true,
}

// maxString bounds one string value in the stored parameters and
// responses; longer ones (a large manifest) are cut with a marker.
const maxString = 16 << 10

// isSecret reports whether a field of that name is hidden.
func isSecret(key string) bool { return secretKeys[strings.ToLower(key)] }

// redactJSON walks a JSON document and returns it with secrets hidden,
// payload fields reduced to their size and long strings cut; nil stays
// nil. A document that does not parse is replaced by a note, never stored.
func redactJSON(doc []byte) json.RawMessage {
	if len(doc) == 0 {
		return nil
	}
	// An object's fields are decoded one by one, so a payload field (a
	// 20 MiB layer part) is measured, never decoded.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err == nil && top != nil {
		out := make(map[string]any, len(top))
		for k, raw := range top {
			switch lk := strings.ToLower(k); {
			case secretKeys[lk]:
				out[k] = Redacted
			case bulkyKeys[lk]:
				out[k] = fmt.Sprintf("<%d bytes omitted>", len(raw))
			default:
				var v any
				_ = json.Unmarshal(raw, &v) // valid: the whole document parsed
				out[k] = redactValue(v)
			}
		}
		return mustJSON(out)
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return json.RawMessage(`{"unparsed":"request body is not JSON"}`)
	}
	if v == nil {
		return nil
	}
	return mustJSON(redactValue(v))
}

// mustJSON encodes a decoded JSON tree, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// redactAny is redactJSON of v's JSON encoding.
func redactAny(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return redactJSON(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return redactJSON(b)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			switch lk := strings.ToLower(k); {
			case secretKeys[lk]:
				t[k] = Redacted
			case bulkyKeys[lk]:
				if s, ok := x.(string); ok {
					t[k] = fmt.Sprintf("<%d bytes omitted>", len(s))
				}
			default:
				t[k] = redactValue(x)
			}
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
		return t
	case string:
		if len(t) > maxString {
			cut := maxString
			for cut > 0 && !utf8.RuneStart(t[cut]) {
				cut--
			}
			return t[:cut] + fmt.Sprintf("...<%d bytes omitted>", len(t)-cut)
		}
		return t
	default:
		return v
	}
}

// queryParams turns a query-protocol form (IAM, STS) into CloudTrail's
// requestParameters: lower-camel field names, without Action and Version,
// with secrets hidden. Dotted list members (Tags.member.1.Key) keep their
// path, lower-cased at each step.
func queryParams(form map[string][]string) json.RawMessage {
	m := map[string]any{}
	for k, vs := range form {
		if k == "Action" || k == "Version" || len(vs) == 0 {
			continue
		}
		parts := strings.Split(k, ".")
		for i, p := range parts {
			parts[i] = lowerFirst(p)
		}
		m[strings.Join(parts, ".")] = vs[0]
	}
	if len(m) == 0 {
		return nil
	}
	return redactAny(m)
}

// lowerCamel re-keys a JSON document's objects with lower-first names, as
// CloudTrail spells IAM's response elements.
func lowerCamel(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			k = lowerFirst(k)
			if len(k) > 2 && strings.HasSuffix(k, "ID") { // Go's UserID is IAM's UserId
				k = strings.TrimSuffix(k, "ID") + "Id"
			}
			out[k] = lowerCamel(x)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = lowerCamel(x)
		}
		return t
	default:
		return v
	}
}

// lowerFirst lowers a name's leading capitals as CloudTrail does:
// UserName → userName, ARN → arn, AccessKeyId → accessKeyId.
func lowerFirst(s string) string {
	r := []rune(s)
	for i := range r {
		if !unicode.IsUpper(r[i]) {
			break
		}
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}
