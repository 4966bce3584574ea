package lifecycle

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		yes, no []string
	}{
		{"prod*", []string{"prod", "prod1", "production-team1"}, []string{"pro", "xprod", "Prod"}},
		{"*prod*", []string{"repo-production", "prod", "xprodx"}, []string{"pro-d", "PROD"}},
		{"*", []string{"a", "anything-at-all"}, nil},
		{"v1", []string{"v1"}, []string{"v10", "xv1", "v"}},
		{"*-amd64", []string{"1.0-amd64", "-amd64"}, []string{"1.0-arm64", "amd64"}},
		{"a*a", []string{"aa", "aba", "aaa"}, []string{"a", "ab", "ba"}},
		{"*test*1*2*3", []string{"test123", "my-test-1-2-3", "test1x2y3"}, []string{"test1-2-3x", "tset123"}},
		{"test*1*2*3*", []string{"test123", "test-1-2-3-rc"}, []string{"xtest123", "test12"}},
		{"a*b*a", []string{"aba", "abba", "ab-ab-a"}, []string{"ab", "aab"}},
		{"**", []string{"x"}, nil},
		{"é*ü", []string{"éü", "é-ü"}, []string{"e-u"}},
	}
	for _, c := range cases {
		p := compilePattern(c.pattern)
		for _, tag := range c.yes {
			if !p.match(tag) {
				t.Errorf("%q should match %q", c.pattern, tag)
			}
		}
		for _, tag := range c.no {
			if p.match(tag) {
				t.Errorf("%q should not match %q", c.pattern, tag)
			}
		}
	}
}

// TestPatternMatchesRegexp compares the matcher with the equivalent regular
// expression on random patterns and tags over a small alphabet, where
// backtracking cases (repeated letters) are frequent.
func TestPatternMatchesRegexp(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 5000 {
		pat := word("ab**", rng.IntN(8))
		tag := word("ab", rng.IntN(10))
		parts := strings.Split(pat, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		want := regexp.MustCompile(`^` + strings.Join(parts, ".*") + `$`).MatchString(tag)
		p := compilePattern(pat)
		if got := p.match(tag); got != want {
			t.Fatalf("pattern %q, tag %q: match = %v, want %v", pat, tag, got, want)
		}
	}
}

func TestTagFilter(t *testing.T) {
	t.Parallel()
	f := compileFilter(Selection{TagStatus: TagStatusTagged, TagPatternList: []string{"api*", "*prod"}})
	for tags, want := range map[string]bool{"api-prod": true, "api,prod": true, "api": false, "prod": false, "": false} {
		var list []string
		if tags != "" {
			list = strings.Split(tags, ",")
		}
		if got := f.selects(list); got != want {
			t.Errorf("tags %q: selects = %v, want %v", tags, got, want)
		}
	}
	untagged := compileFilter(Selection{TagStatus: TagStatusUntagged})
	anyTag := compileFilter(Selection{TagStatus: TagStatusAny})
	if !untagged.selects(nil) || untagged.selects([]string{"x"}) || !anyTag.selects(nil) || !anyTag.selects([]string{"x"}) {
		t.Error("untagged/any filters wrong")
	}
}
