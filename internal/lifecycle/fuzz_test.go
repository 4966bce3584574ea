package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Run with: go test ./internal/lifecycle -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s

// FuzzParse checks that Parse never panics, fails only with a well-formed
// *InvalidPolicyError, and that what it accepts obeys every rule: its
// canonical re-encoding parses to the same rules, and evaluating it over a
// small repository keeps Evaluate's invariants.
func FuzzParse(f *testing.F) {
	for _, c := range validPolicies {
		f.Add(c.text)
	}
	for _, c := range invalidPolicies {
		f.Add(c.text)
	}
	f.Add(benchPolicy)
	images := fuzzRepository()
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			checkParseError(t, text, p, err)
			return
		}
		if p.Text() != text {
			t.Fatal("Text() is not the parsed text")
		}
		rules := p.Rules()
		if len(rules) == 0 || len(rules) > MaxRules || checkAcrossRules(rules) != nil {
			t.Fatalf("accepted an invalid rule set: %+v", rules)
		}
		for i, r := range rules {
			if checkRule(r, "rule") != nil || r.Priority < 1 || r.Selection.CountNumber < 1 || i > 0 && r.Priority <= rules[i-1].Priority {
				t.Fatalf("accepted an invalid rule: %+v", r)
			}
		}
		if canonical := encodePolicy(t, rules); utf8.RuneCountInString(canonical) <= MaxTextLength {
			again, err := Parse(canonical)
			if err != nil {
				t.Fatalf("the canonical form of an accepted policy is refused: %v\n%s", err, canonical)
			}
			if !reflect.DeepEqual(again.Rules(), rules) {
				t.Fatalf("the canonical form parses differently:\n%+v\n%+v", again.Rules(), rules)
			}
		}
		res := Evaluate(p, images, now)
		checkInvariants(t, images, res)
		if !reflect.DeepEqual(res, Evaluate(p, images, now)) {
			t.Fatal("Evaluate is not deterministic")
		}
	})
}

func checkParseError(t *testing.T, text string, p *Policy, err error) {
	var e *InvalidPolicyError
	if p != nil || !errors.As(err, &e) || !errors.Is(err, ErrInvalidPolicy) || e.Detail == "" {
		t.Fatalf("Parse(%q) = %v, %#v", text, p, err)
	}
	if !strings.HasPrefix(e.Message(), "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '") ||
		!e.Length && !strings.Contains(e.Message(), "'Lifecycle policy validation failure: ") {
		t.Fatalf("badly shaped message %q", e.Message())
	}
	if len(e.Detail) > 600 {
		t.Fatalf("detail of %d bytes: %q", len(e.Detail), e.Detail)
	}
	if _, again := Parse(text); again == nil || again.Error() != err.Error() {
		t.Fatalf("Parse(%q) is not deterministic: %v, then %v", text, err, again)
	}
}

// encodePolicy writes rules in the policy JSON grammar, padded to the minimum length.
func encodePolicy(t *testing.T, rules []Rule) string {
	type selection struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList,omitempty"`
		TagPrefixList  []string `json:"tagPrefixList,omitempty"`
		StorageClass   string   `json:"storageClass"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit,omitempty"`
		CountNumber    int      `json:"countNumber"`
	}
	type action struct {
		Type               string `json:"type"`
		TargetStorageClass string `json:"targetStorageClass,omitempty"`
	}
	type rule struct {
		RulePriority int       `json:"rulePriority"`
		Description  string    `json:"description,omitempty"`
		Selection    selection `json:"selection"`
		Action       action    `json:"action"`
	}
	var doc struct {
		Rules []rule `json:"rules"`
	}
	low := func(s string) string { return strings.ToLower(s) }
	for _, r := range rules {
		s := r.Selection
		doc.Rules = append(doc.Rules, rule{r.Priority, r.Description,
			selection{low(string(s.TagStatus)), s.TagPatternList, s.TagPrefixList, low(string(s.StorageClass)), string(s.CountType), s.CountUnit, s.CountNumber},
			action{low(string(r.Action.Type)), low(string(r.Action.TargetStorageClass))}})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return padTo(b.String(), MinTextLength)
}

// fuzzRepository is a small repository where most rules find something:
// tags of several shapes, both storage classes, an index and a referrer.
func fuzzRepository() []Image {
	return []Image{
		img("A", tg("v1", "latest"), 200), img("B", tg("prod-1"), 100, pulled(95)), img("C", nil, 50),
		img("D", nil, 10, refers("A")), img("E", tg("release-1.0"), 400, archived(200)), img("F", nil, 300, archived(95)),
		img("index", tg("multi"), 120), img("child1", nil, 120, childOf("index")), img("G", tg("a*b"), 3, restored(1)),
	}
}
