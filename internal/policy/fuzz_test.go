package policy

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Run with: go test ./internal/policy -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s
// (and likewise for FuzzPattern).

// FuzzParse checks that Parse never panics, fails only with *Error values wrapping its
// sentinels, keeps the text of what it accepts, and that what it accepts evaluates
// deterministically without panicking.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.text, uint8(c.kind))
	}
	for _, name := range ManagedNames() {
		f.Add(managedDocuments[name], uint8(Identity))
	}
	for _, c := range slices.Concat(accessCases(), crossAccountCases(), conditionCases(), variableCases()) {
		for _, text := range c.identity {
			f.Add(text, uint8(Identity))
		}
		f.Add(c.repo, uint8(Resource))
		f.Add(c.registry, uint8(Registry))
	}
	requests := []Request{req(alice, get), req(bob, get), req(anon, get), req(rootB, "ecr:PutImage"),
		req(alice, "ecr:GetAuthorizationToken", resource("*")), req(alice, get, tagKeys(), ip(""), noClock)}
	f.Fuzz(func(t *testing.T, text string, k uint8) {
		kind := Kind(k%3 + 1)
		p, err := Parse(text, kind)
		if err != nil {
			var e *Error
			if p != nil || !errors.As(err, &e) || !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) || e.Message == "" {
				t.Fatalf("Parse(%q) = %v, %v", text, p, err)
			}
			if _, again := Parse(text, kind); again == nil || again.Error() != err.Error() {
				t.Fatalf("Parse(%q) not deterministic: %v, then %v", text, err, again)
			}
			return
		}
		if p.Text() != text || p.Kind() != kind {
			t.Fatalf("Parse(%q) lost its text or kind", text)
		}
		for _, r := range requests {
			set := PolicySet{Identity: []*Policy{p}}
			if kind == Resource {
				set = PolicySet{Repository: p}
			} else if kind == Registry {
				set = PolicySet{Registry: p}
			}
			d1, d2 := Evaluate(r, set), Evaluate(r, set)
			if d1 != d2 || d1.Effect > ExplicitDeny {
				t.Fatalf("Evaluate not deterministic: %v vs %v", d1, d2)
			}
		}
	})
}

// FuzzPattern checks the wildcard matcher against a regexp oracle.
func FuzzPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", ""}, {"a*b", "aXXb"}, {"a?c", "abc"}, {"*a*a*a*b", strings.Repeat("a", 40)},
		{"ecr:Batch*", "ecr:BatchGetImage"}, {"?", "é"}, {"*?", "éx"}, {"a**", "a"}, {"", ""},
		{"prod-*-??", "prod-api-v1"}, {"*.*", "a.b.c"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for _, r := range pat {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`$`)
		oracle := regexp.MustCompile(re.String())
		p, err := compilePattern(pat, false, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := p.match(s, nil); got != oracle.MatchString(s) {
			t.Fatalf("match(%q, %q) = %v, oracle says %v", pat, s, got, !got)
		}
		if isASCII(pat) && isASCII(s) {
			folded, _ := compilePattern(pat, false, true, true)
			want := regexp.MustCompile("(?i)" + re.String()).MatchString(s)
			if got, _ := folded.match(s, nil); got != want {
				t.Fatalf("folded match(%q, %q) = %v, oracle says %v", pat, s, got, want)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
