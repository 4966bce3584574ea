package policy

import (
	"strings"
	"unicode/utf8"
)

// Wildcard patterns ("*" any run, "?" one character) are compiled once into tokens and matched
// by an allocation-free scan that backtracks only to the last star, so a match costs at most
// O(len(pattern)·len(input)) whatever the pattern. Policy variables are tokens too: their
// value is looked up in the Request while matching and compared literally, so a "*" in a user
// name never acts as a wildcard.

type tokenKind uint8

const (
	tokLiteral tokenKind = iota
	tokStar
	tokQuest
	tokVar
)

type token struct {
	kind   tokenKind
	lit    string // tokLiteral text; tokVar default value
	key    keyRef // tokVar
	hasDef bool   // tokVar has a default value
}

// pattern is a compiled wildcard pattern.
type pattern struct {
	src      string
	toks     []token
	plain    bool // one literal, no wildcards or variables: compare directly
	anything bool // "*": matches every string
	fold     bool // ASCII case-insensitive (actions); literals are stored lower-cased
	hasVars  bool
	lead     string // the leading literal, checked before scanning
	prefix   bool   // the pattern is lead followed by one '*' ("ecr:Get*")
}

// compilePattern compiles s. With vars, "${...}" are policy variables (Version 2012-10-17);
// with wild false, '*' and '?' are literal (StringEquals values may hold variables only).
func compilePattern(s string, vars, wild, fold bool) (pattern, error) {
	p := pattern{src: s, fold: fold}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			text := lit.String()
			if fold {
				text = strings.ToLower(text)
			}
			p.toks = append(p.toks, token{kind: tokLiteral, lit: text})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case wild && c == '*':
			flush()
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != tokStar {
				p.toks = append(p.toks, token{kind: tokStar})
			}
		case wild && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tokQuest})
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			tok, n, err := parseVariable(s[i:])
			if err != nil {
				return pattern{}, err
			}
			i += n - 1
			if tok.kind == tokLiteral {
				lit.WriteString(tok.lit)
				continue
			}
			flush()
			p.toks = append(p.toks, tok)
			p.hasVars = true
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	switch {
	case len(p.toks) == 1 && p.toks[0].kind == tokStar:
		p.anything = true
	case len(p.toks) == 0:
		p.plain = true
	case len(p.toks) == 1 && p.toks[0].kind == tokLiteral:
		p.plain = true
	case p.toks[0].kind == tokLiteral:
		p.lead = p.toks[0].lit
		p.prefix = len(p.toks) == 2 && p.toks[1].kind == tokStar
	}
	return p, nil
}

// parseVariable parses the "${...}" at the start of s and returns its token and length.
// Forms: ${key}, ${key, 'default'} (a doubled single quote stands for one), and ${*}, ${?} and
// ${$} for the literal characters.
func parseVariable(s string) (token, int, error) {
	end := -1
	inQuote := false
	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			if inQuote && i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			inQuote = !inQuote
		case s[i] == '}' && !inQuote:
			end = i
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return token{}, 0, syntaxError("unterminated policy variable in %q", clip(s))
	}
	body := s[2:end]
	name, def, hasDef := strings.Cut(body, ",")
	name = strings.TrimSpace(name)
	if !hasDef {
		switch name {
		case "*", "?", "$":
			return token{kind: tokLiteral, lit: name}, end + 1, nil
		}
	}
	if name == "" || strings.ContainsAny(name, " \t'") {
		return token{}, 0, syntaxError("invalid policy variable %q", s[:end+1])
	}
	tok := token{kind: tokVar, key: parseKey(name)}
	if hasDef {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return token{}, 0, syntaxError("default value of policy variable %q must be in single quotes", s[:end+1])
		}
		tok.lit = strings.ReplaceAll(def[1:len(def)-1], "''", "'")
		tok.hasDef = true
	}
	return tok, end + 1, nil
}

// value resolves a variable token; ok is false when its key is absent and it has no default.
func (t *token) value(r *Request) (string, bool) {
	if v, ok := r.variable(t.key); ok {
		return v, true
	}
	return t.lit, t.hasDef
}

// resolvable reports whether every variable of p has a value (or a default) in r.
func (p *pattern) resolvable(r *Request) bool {
	if !p.hasVars {
		return true
	}
	for i := range p.toks {
		if p.toks[i].kind == tokVar {
			if _, ok := p.toks[i].value(r); !ok {
				return false
			}
		}
	}
	return true
}

// match reports whether s matches p. resolved is false when a variable in p could not be
// resolved; matched is then false too.
func (p *pattern) match(s string, r *Request) (matched, resolved bool) {
	switch {
	case p.anything:
		return true, true
	case p.plain:
		if len(p.toks) == 0 {
			return s == "", true
		}
		if p.fold {
			return equalFoldLower(s, p.toks[0].lit), true
		}
		return s == p.toks[0].lit, true
	}
	if p.lead != "" {
		if len(s) < len(p.lead) {
			return false, true
		}
		if p.fold && !equalFoldLower(s[:len(p.lead)], p.lead) || !p.fold && s[:len(p.lead)] != p.lead {
			return false, true
		}
		if p.prefix {
			return true, true
		}
	}
	return p.scan(s, r)
}

// scan is the general matcher: greedy, remembering only the last star, which is exact for
// '*'/'?' patterns and runs in O(len(p)·len(s)) without recursion.
func (p *pattern) scan(s string, r *Request) (bool, bool) {
	toks := p.toks
	ti, off, si := 0, 0, 0
	starTi, starSi := -1, 0
	for si < len(s) {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				ti, off = ti+1, 0
				starTi, starSi = ti, si
				continue
			case tokQuest:
				_, size := utf8.DecodeRuneInString(s[si:])
				si += size
				ti++
				continue
			default:
				lit, ok := t.lit, true
				if t.kind == tokVar {
					if lit, ok = t.value(r); !ok {
						return false, false
					}
				}
				if off >= len(lit) {
					ti, off = ti+1, 0
					continue
				}
				if p.byteEqual(s[si], lit[off], t.kind == tokVar) {
					si, off = si+1, off+1
					if off == len(lit) {
						ti, off = ti+1, 0
					}
					continue
				}
			}
		}
		if starTi < 0 {
			return false, true
		}
		_, size := utf8.DecodeRuneInString(s[starSi:])
		starSi += size // a star consumes whole characters, as '?' does
		si, ti, off = starSi, starTi, 0
	}
	for ; ti < len(toks); ti, off = ti+1, 0 {
		t := &toks[ti]
		switch t.kind {
		case tokStar:
		case tokQuest:
			return false, true
		default:
			lit, ok := t.lit, true
			if t.kind == tokVar {
				if lit, ok = t.value(r); !ok {
					return false, false
				}
			}
			if off < len(lit) {
				return false, true
			}
		}
	}
	return true, true
}

// byteEqual compares one input byte with one pattern byte. Literals of folding patterns are
// stored lower-cased; variable values are not, so both sides are folded for them.
func (p *pattern) byteEqual(in, pat byte, fromVar bool) bool {
	if !p.fold {
		return in == pat
	}
	if fromVar {
		pat = lowerASCII(pat)
	}
	return lowerASCII(in) == pat
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFoldLower reports whether s equals lower (already lower-case) ignoring ASCII case.
func equalFoldLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// arnPattern matches ARNs as IAM does for Resource elements and the Arn* operators: each of the
// six colon-separated parts is matched on its own, the sixth (the resource) taking the rest of
// the string, colons included. A pattern that is not an ARN (such as "*") is matched whole.
type arnPattern struct {
	src    string
	whole  pattern
	parts  [6]pattern
	isARN  bool // matched part by part
	notARN bool // neither "*" nor ARN-shaped: only a variable can make it match an ARN
}

func compileARNPattern(s string, vars bool) (arnPattern, error) {
	a := arnPattern{src: s}
	parts, ok := splitARN(s, vars)
	if !ok || strings.IndexAny(s, "*?") < 0 && !(vars && strings.Contains(s, "${")) {
		w, err := compilePattern(s, vars, true, false)
		a.whole, a.notARN = w, !ok
		return a, err
	}
	a.isARN = true
	for i, part := range parts {
		p, err := compilePattern(part, vars, true, false)
		if err != nil {
			return a, err
		}
		a.parts[i] = p
	}
	return a, nil
}

func (a *arnPattern) match(s string, r *Request) (matched, resolved bool) {
	parts, ok := splitARN(s, false)
	return a.matchParts(s, parts, ok, r)
}

// matchParts is match with s already split by splitARN.
func (a *arnPattern) matchParts(s string, parts [6]string, ok bool, r *Request) (matched, resolved bool) {
	switch {
	case a.whole.anything:
		return true, true
	case !ok:
		return false, true // only ARNs match ARN patterns
	case a.notARN && !a.whole.hasVars:
		return false, true
	case !a.isARN:
		return a.whole.match(s, r)
	}
	for i := range parts {
		m, res := a.parts[i].match(parts[i], r)
		if !res {
			return false, false
		}
		if !m {
			return false, true
		}
	}
	return true, true
}

func (a *arnPattern) resolvable(r *Request) bool {
	if !a.isARN {
		return a.whole.resolvable(r)
	}
	for i := range a.parts {
		if !a.parts[i].resolvable(r) {
			return false
		}
	}
	return true
}

func (a *arnPattern) hasVars() bool {
	if !a.isARN {
		return a.whole.hasVars
	}
	for i := range a.parts {
		if a.parts[i].hasVars {
			return true
		}
	}
	return false
}

// splitARN splits s into its six ARN parts without allocating. With vars, colons inside
// "${...}" do not split. ok is false when s does not start with "arn:" or has fewer than six parts.
func splitARN(s string, vars bool) (parts [6]string, ok bool) {
	if !strings.HasPrefix(s, "arn:") {
		return parts, false
	}
	start, n := 0, 0
	for i := 0; i < len(s) && n < 5; i++ {
		switch {
		case vars && s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			if j := strings.IndexByte(s[i:], '}'); j > 0 {
				i += j
			}
		case s[i] == ':':
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return parts, false
	}
	parts[5] = s[start:]
	return parts, true
}

// clip shortens user input echoed in error details.
func clip(s string) string {
	const maxEcho = 64
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "..."
}
