package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// Parse validates text as a policy of kind, within the kind's size limit (MaxIdentitySize
// without whitespace for identity policies, MaxResourceSize characters otherwise), and compiles
// it. Errors are *Error values wrapping ErrMalformed or ErrTooLarge.
func Parse(text string, kind Kind) (*Policy, error) {
	limit := MaxResourceSize
	if kind == Identity {
		limit = MaxIdentitySize
	}
	return ParseWithLimit(text, kind, limit)
}

// ParseWithLimit is Parse with another size limit; maxSize <= 0 means none.
func ParseWithLimit(text string, kind Kind, maxSize int) (*Policy, error) {
	if kind < Identity || kind > Registry {
		return nil, fmt.Errorf("policy: unknown policy kind %d", kind)
	}
	if err := checkSize(text, kind, maxSize); err != nil {
		return nil, err
	}
	doc, err := decodeJSON(text)
	if err != nil {
		return nil, err
	}
	p, perr := compile(doc, kind)
	if perr != nil {
		return nil, perr
	}
	p.text = text
	return p, nil
}

// checkSize applies IAM's rule (characters other than whitespace) to identity policies and the
// ECR model's length constraint to repository and registry policies.
func checkSize(text string, kind Kind, maxSize int) error {
	if maxSize <= 0 {
		return nil
	}
	if kind == Identity {
		n := 0
		for _, r := range text {
			if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
				n++
			}
		}
		if n > maxSize {
			return &Error{Kind: ErrTooLarge, Message: fmt.Sprintf("Cannot exceed quota for PolicySize: %d", maxSize)}
		}
		return nil
	}
	if utf8.RuneCountInString(text) > maxSize {
		return &Error{Kind: ErrTooLarge, Message: fmt.Sprintf("Invalid parameter at 'PolicyText' failed to "+
			"satisfy constraint: 'Member must have length less than or equal to %d'", maxSize)}
	}
	return nil
}

func decodeJSON(text string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, syntaxError("invalid JSON: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, syntaxError("invalid JSON: data after the policy document")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxError("the policy document must be a JSON object")
	}
	return doc, nil
}

func compile(doc map[string]any, kind Kind) (*Policy, *Error) {
	p := &Policy{kind: kind}
	for _, k := range sortedKeys(doc) {
		v := doc[k]
		switch k {
		case "Version":
			s, ok := v.(string)
			if !ok || s != Version2012 && s != Version2008 {
				return nil, syntaxError("Version must be %q or %q, got %s", Version2012, Version2008, jsonText(v))
			}
			p.version = s
		case "Id":
			if _, ok := v.(string); !ok {
				return nil, syntaxError("Id must be a string")
			}
		case "Statement":
		default:
			return nil, syntaxError("unknown policy element %q", clip(k))
		}
	}
	raw, ok := doc["Statement"]
	if !ok {
		return nil, syntaxError("the policy has no Statement")
	}
	var stmts []any
	switch v := raw.(type) {
	case []any:
		stmts = v
	case map[string]any:
		stmts = []any{v}
	default:
		return nil, syntaxError("Statement must be an object or a list of objects")
	}
	vars := p.version == Version2012
	sids := make(map[string]bool, len(stmts))
	for i, s := range stmts {
		obj, ok := s.(map[string]any)
		if !ok {
			return nil, syntaxError("statement %d must be an object", i+1)
		}
		st, err := compileStatement(obj, kind, vars)
		if err != nil {
			return nil, err
		}
		if st.sid != "" {
			if sids[st.sid] {
				return nil, malformed(msgDuplicateSid)
			}
			sids[st.sid] = true
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

var statementElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
	"Principal", "NotPrincipal", "Condition"}

func compileStatement(obj map[string]any, kind Kind, vars bool) (statement, *Error) {
	var st statement
	for _, k := range sortedKeys(obj) {
		if !containsString(statementElements, k) {
			return st, syntaxError("unknown statement element %q", clip(k))
		}
	}
	if err := st.compileEffectAndSid(obj, kind); err != nil {
		return st, err
	}
	if err := st.compilePrincipal(obj, kind); err != nil {
		return st, err
	}
	if err := st.compileActions(obj); err != nil {
		return st, err
	}
	if err := st.compileResources(obj, kind, vars); err != nil {
		return st, err
	}
	if c, ok := obj["Condition"]; ok {
		conds, err := parseConditions(c, vars)
		if err != nil {
			return st, err
		}
		st.conditions = conds
	}
	return st, nil
}

func (st *statement) compileEffectAndSid(obj map[string]any, kind Kind) *Error {
	if raw, ok := obj["Sid"]; ok {
		sid, ok := raw.(string)
		if !ok {
			return syntaxError("Sid must be a string")
		}
		if kind == Identity && !isAlnum(sid) {
			return malformed(msgSidAlnum)
		}
		st.sid = sid
	}
	raw, ok := obj["Effect"]
	if !ok {
		return malformed(msgMissingEffect)
	}
	switch raw {
	case "Allow":
	case "Deny":
		st.deny = true
	default:
		s, _ := raw.(string)
		if s == "" {
			s = jsonText(raw)
		}
		return malformed("Invalid effect: " + clip(s))
	}
	return nil
}

func (st *statement) compilePrincipal(obj map[string]any, kind Kind) *Error {
	pr, hasP := obj["Principal"]
	npr, hasNP := obj["NotPrincipal"]
	switch {
	case kind == Identity && (hasP || hasNP):
		return malformed(msgNoPrincipal)
	case kind == Identity:
		return nil
	case hasP && hasNP:
		return syntaxError("a statement cannot have both Principal and NotPrincipal")
	case !hasP && !hasNP:
		return malformed(msgMissingPrincipal)
	case hasNP && !st.deny:
		return syntaxError(`NotPrincipal is supported only with "Effect": "Deny"`)
	}
	if hasNP {
		pr = npr
		st.notPrincipal = true
	}
	ps, err := parsePrincipal(pr)
	if err != nil {
		return err
	}
	st.principals = ps
	return nil
}

func (st *statement) compileActions(obj map[string]any) *Error {
	raw, hasA := obj["Action"]
	nraw, hasNA := obj["NotAction"]
	switch {
	case hasA && hasNA:
		return syntaxError("a statement cannot have both Action and NotAction")
	case hasNA:
		raw, st.notAction = nraw, true
	case !hasA:
		return malformed(msgNoActions)
	}
	actions, err := onlyStrings(raw)
	if err != nil {
		return syntaxError("Action must be a string or a list of strings")
	}
	if len(actions) == 0 {
		return malformed(msgNoActions)
	}
	for _, a := range actions {
		if a != "*" {
			vendor, name, ok := strings.Cut(a, ":")
			if !ok || vendor == "" || name == "" || !isVendor(vendor) {
				return malformed(msgVendor)
			}
		}
		p, _ := compilePattern(a, false, true, true) // no variables: cannot fail
		st.actions = append(st.actions, p)
	}
	return nil
}

func (st *statement) compileResources(obj map[string]any, kind Kind, vars bool) *Error {
	raw, hasR := obj["Resource"]
	nraw, hasNR := obj["NotResource"]
	switch {
	case hasR && hasNR:
		return syntaxError("a statement cannot have both Resource and NotResource")
	case hasNR:
		raw, st.notResource = nraw, true
	case !hasR && kind == Resource:
		st.anyResource = true
		return nil
	case !hasR:
		return malformed(msgNoResources)
	}
	resources, err := onlyStrings(raw)
	if err != nil {
		return syntaxError("Resource must be a string or a list of strings")
	}
	if len(resources) == 0 {
		return malformed(msgNoResources)
	}
	for _, r := range resources {
		if r != "*" {
			parts, ok := splitARN(r, vars)
			if !ok {
				return malformed(fmt.Sprintf("Resource %s must be in ARN format or \"*\".", clip(r)))
			}
			if parts[2] == "" || strings.ContainsAny(parts[2], "*?$") {
				return malformed("Resource vendor must be fully qualified and cannot contain regexes.")
			}
		}
		a, perr := compileARNPattern(r, vars)
		if perr != nil {
			if e, ok := perr.(*Error); ok {
				return e
			}
			return syntaxError("%v", perr)
		}
		st.resources = append(st.resources, a)
		st.resourceVars = st.resourceVars || a.hasVars()
	}
	return nil
}

// sortedKeys makes parsing deterministic: the first error reported and the order conditions
// are evaluated in do not depend on map iteration.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stringList reads a policy value that may be a scalar or a list of scalars. Numbers and
// booleans are kept as their JSON text, as IAM does for condition values.
func stringList(v any) ([]string, error) {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := scalarText(e)
			if !ok {
				return nil, errNotScalar
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalarText(v)
	if !ok {
		return nil, errNotScalar
	}
	return []string{s}, nil
}

var errNotScalar = errors.New("not a string or a list of strings")

// onlyStrings reads an Action or Resource value: a string or a list of strings.
func onlyStrings(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errNotScalar
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errNotScalar
		}
		out = append(out, s)
	}
	return out, nil
}

func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// jsonText renders a decoded JSON value for an error message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return clip(string(b))
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isVendor reports whether s is a service prefix such as "ecr" or "ecr-public".
func isVendor(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
