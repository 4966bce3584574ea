package lifecycle

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse validates text as an ECR lifecycle policy (spec §5.2) and compiles
// it. Every error is an *InvalidPolicyError (errors.Is(err, ErrInvalidPolicy)
// holds) describing the first problem in document order; the package
// documentation lists the rules.
func Parse(text string) (*Policy, error) {
	if n := utf8.RuneCountInString(text); n < MinTextLength {
		return nil, &InvalidPolicyError{Length: true, Detail: fmt.Sprintf("Member must have length greater than or equal to %d", MinTextLength)}
	} else if n > MaxTextLength {
		return nil, &InvalidPolicyError{Length: true, Detail: fmt.Sprintf("Member must have length less than or equal to %d", MaxTextLength)}
	}
	if !utf8.ValidString(text) {
		return nil, invalidf("the policy text is not valid UTF-8")
	}
	root, perr := decodeJSON(text)
	if perr != nil {
		return nil, perr
	}
	rules, perr := decodeRules(root)
	if perr != nil {
		return nil, perr
	}
	if perr := checkAcrossRules(rules); perr != nil {
		return nil, perr
	}
	slices.SortFunc(rules, func(a, b Rule) int { return a.Priority - b.Priority })
	p := &Policy{text: text, rules: rules, filters: make([]tagFilter, len(rules))}
	for i := range rules {
		p.filters[i] = compileFilter(rules[i].Selection)
	}
	return p, nil
}

func decodeRules(root jsonValue) ([]Rule, *InvalidPolicyError) {
	top, err := object(root, "", "rules")
	if err != nil {
		if root.kind != jsonObject {
			return nil, invalidf("the policy must be a JSON object with a \"rules\" array, got %s", root.kind)
		}
		return nil, err
	}
	raw, ok := top["rules"]
	if !ok {
		return nil, invalidf("rules is required")
	}
	if raw.kind != jsonArray {
		return nil, invalidf("rules must be an array, got %s", raw.kind)
	}
	if len(raw.items) == 0 {
		return nil, invalidf("rules must contain at least one rule")
	}
	if len(raw.items) > MaxRules {
		return nil, invalidf("the policy has %d rules; at most %d are allowed", len(raw.items), MaxRules)
	}
	rules := make([]Rule, len(raw.items))
	for i, item := range raw.items {
		r, err := decodeRule(item, fmt.Sprintf("rules[%d]", i))
		if err != nil {
			return nil, err
		}
		if err := checkRule(r, fmt.Sprintf("rules[%d]", i)); err != nil {
			return nil, err
		}
		rules[i] = r
	}
	return rules, nil
}

func decodeRule(v jsonValue, path string) (Rule, *InvalidPolicyError) {
	var r Rule
	m, err := object(v, path, "rulePriority", "description", "selection", "action")
	if err != nil {
		return r, err
	}
	if r.Priority, err = intField(m, path, "rulePriority", true); err != nil {
		return r, err
	}
	if d, ok := m["description"]; ok {
		if d.kind != jsonString {
			return r, invalidf("%s.description must be a string, got %s", path, d.kind)
		}
		r.Description = d.text
	}
	sel, ok := m["selection"]
	if !ok {
		return r, invalidf("%s.selection is required", path)
	}
	if r.Selection, err = decodeSelection(sel, path+".selection"); err != nil {
		return r, err
	}
	act, ok := m["action"]
	if !ok {
		return r, invalidf("%s.action is required", path)
	}
	r.Action, err = decodeAction(act, path+".action")
	return r, err
}

func decodeSelection(v jsonValue, path string) (Selection, *InvalidPolicyError) {
	var s Selection
	m, err := object(v, path, "tagStatus", "tagPatternList", "tagPrefixList", "storageClass",
		"countType", "countUnit", "countNumber")
	if err != nil {
		return s, err
	}
	status, err := enumField(m, path, "tagStatus", true, "tagged", "untagged", "any")
	if err != nil {
		return s, err
	}
	s.TagStatus = TagStatus(strings.ToUpper(status))
	if s.TagPatternList, err = stringList(m, path, "tagPatternList"); err != nil {
		return s, err
	}
	if s.TagPrefixList, err = stringList(m, path, "tagPrefixList"); err != nil {
		return s, err
	}
	class, err := enumField(m, path, "storageClass", false, "standard", "archive")
	if err != nil {
		return s, err
	}
	s.StorageClass = Standard
	if class == "archive" {
		s.StorageClass = Archive
	}
	ct, err := enumField(m, path, "countType", true, string(ImageCountMoreThan), string(SinceImagePushed),
		string(SinceImagePulled), string(SinceImageTransitioned))
	if err != nil {
		return s, err
	}
	s.CountType = CountType(ct)
	if s.CountUnit, err = enumField(m, path, "countUnit", false, "days"); err != nil {
		return s, err
	}
	if s.CountNumber, err = intField(m, path, "countNumber", true); err != nil {
		return s, err
	}
	return s, nil
}

func decodeAction(v jsonValue, path string) (Action, *InvalidPolicyError) {
	var a Action
	m, err := object(v, path, "type", "targetStorageClass")
	if err != nil {
		return a, err
	}
	t, err := enumField(m, path, "type", true, "expire", "transition")
	if err != nil {
		return a, err
	}
	a.Type = ActionType(strings.ToUpper(t))
	target, err := enumField(m, path, "targetStorageClass", false, "archive")
	if err != nil {
		return a, err
	}
	a.TargetStorageClass = StorageClass(strings.ToUpper(target))
	return a, nil
}

var integerLiteral = regexp.MustCompile(`^-?[0-9]+$`)

// intField reads a positive integer member (1..MaxCount). JSON numbers with
// a fraction or an exponent (1.0, 1e2) are not integers, as in JSON Schema.
func intField(m map[string]jsonValue, path, key string, required bool) (int, *InvalidPolicyError) {
	v, ok := m[key]
	if !ok {
		if required {
			return 0, invalidf("%s is required", join(path, key))
		}
		return 0, nil
	}
	if v.kind != jsonNumber {
		return 0, invalidf("%s must be an integer, got %s", join(path, key), v.kind)
	}
	if !integerLiteral.MatchString(v.text) {
		return 0, invalidf("%s must be an integer, got %s", join(path, key), v.text)
	}
	n, err := strconv.ParseInt(v.text, 10, 64)
	if err != nil && v.text[0] == '-' || err == nil && n < 1 {
		return 0, invalidf("%s must be a positive integer (got %s)", join(path, key), clip(v.text))
	}
	if err != nil || n > MaxCount {
		return 0, invalidf("%s must be at most %d (got %s)", join(path, key), MaxCount, clip(v.text))
	}
	return int(n), nil
}

// enumField reads a string member that must be one of values (exactly, case-sensitively).
func enumField(m map[string]jsonValue, path, key string, required bool, values ...string) (string, *InvalidPolicyError) {
	v, ok := m[key]
	if !ok {
		if required {
			return "", invalidf("%s is required", join(path, key))
		}
		return "", nil
	}
	if v.kind != jsonString {
		return "", invalidf("%s must be a string, %s, got %s", join(path, key), oneOf(values...), v.kind)
	}
	if !slices.Contains(values, v.text) {
		return "", invalidf("%s must be %s (got %s)", join(path, key), oneOf(values...), quote(v.text))
	}
	return v.text, nil
}

// stringList reads an optional non-empty array of non-empty strings; nil
// means absent.
func stringList(m map[string]jsonValue, path, key string) ([]string, *InvalidPolicyError) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	p := join(path, key)
	if v.kind != jsonArray {
		return nil, invalidf("%s must be an array of strings, got %s", p, v.kind)
	}
	if len(v.items) == 0 {
		return nil, invalidf("%s must not be empty", p)
	}
	out := make([]string, len(v.items))
	for i, item := range v.items {
		switch {
		case item.kind != jsonString:
			return nil, invalidf("%s[%d] must be a string, got %s", p, i, item.kind)
		case item.text == "":
			return nil, invalidf("%s[%d] must not be empty", p, i)
		case utf8.RuneCountInString(item.text) > MaxTagFilterLength:
			return nil, invalidf("%s[%d] is longer than %d characters, the longest tag", p, i, MaxTagFilterLength)
		}
		out[i] = item.text
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
