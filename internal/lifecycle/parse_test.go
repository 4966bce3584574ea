package lifecycle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Selections reused by the parse tests.
const (
	selUntagged1 = `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`
	selAny5      = `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5`
	selProd30d   = `"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30`
	selPulled90  = `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90`
	selArchive90 = `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`
)

// validPolicies parse; they also seed FuzzParse.
var validPolicies = []struct {
	name  string
	text  string
	rules []Rule // ascending priority
}{
	{"one untagged rule", policyText(rule(1, selUntagged1, expire)), []Rule{{
		Priority: 1, Selection: Selection{TagStatus: TagStatusUntagged, StorageClass: Standard, CountType: ImageCountMoreThan, CountNumber: 1},
		Action: Action{Type: Expire}}}},
	{"every field, priorities out of order", `{"rules":[
		{"rulePriority":20,"description":"archive what nobody pulls","selection":{"tagStatus":"any","storageClass":"standard",
		 "countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}},
		{"rulePriority":3,"description":"","selection":{"tagStatus":"tagged","tagPatternList":["prod*","*-amd64"],
		 "countType":"imageCountMoreThan","countNumber":2147483647},"action":{"type":"expire"}},
		{"rulePriority":7,"selection":{"tagStatus":"tagged","tagPrefixList":["pr-","pr-"],"countType":"sinceImagePushed",
		 "countUnit":"days","countNumber":14},"action":{"type":"expire"}},
		{"rulePriority":21,"selection":{"countNumber":365,"countUnit":"days","countType":"sinceImageTransitioned",
		 "storageClass":"archive","tagStatus":"any"},"action":{"type":"expire"}}]}`,
		[]Rule{
			{Priority: 3, Selection: Selection{TagStatus: TagStatusTagged, TagPatternList: []string{"prod*", "*-amd64"}, StorageClass: Standard,
				CountType: ImageCountMoreThan, CountNumber: MaxCount}, Action: Action{Type: Expire}},
			{Priority: 7, Selection: Selection{TagStatus: TagStatusTagged, TagPrefixList: []string{"pr-", "pr-"}, StorageClass: Standard,
				CountType: SinceImagePushed, CountUnit: "days", CountNumber: 14}, Action: Action{Type: Expire}},
			{Priority: 20, Description: "archive what nobody pulls", Selection: Selection{TagStatus: TagStatusAny, StorageClass: Standard,
				CountType: SinceImagePulled, CountUnit: "days", CountNumber: 90}, Action: Action{Type: Transition, TargetStorageClass: Archive}},
			{Priority: 21, Selection: Selection{TagStatus: TagStatusAny, StorageClass: Archive, CountType: SinceImageTransitioned,
				CountUnit: "days", CountNumber: 365}, Action: Action{Type: Expire}},
		}},
	{"wildcards: four, and a lone star", policyText(
		rule(1, `"tagStatus":"tagged","tagPatternList":["*test*1*2*3","test*1*2*3*"],"countType":"imageCountMoreThan","countNumber":1`, expire),
		rule(2, `"tagStatus":"tagged","tagPatternList":["*"],"countType":"imageCountMoreThan","countNumber":1`, expire)), nil},
	{"an untagged rule and an any rule coexist", policyText(rule(1, selUntagged1, expire), rule(2, selAny5, expire)), nil},
	{"an untagged rule per storage class is fine", policyText(rule(1, selUntagged1, expire),
		rule(2, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)), nil},
	{"any last per storage class", policyText(rule(1, selPulled90, archive), rule(2, selArchive90, expire)), nil},
	{"archive any before a standard rule", policyText(rule(1, selArchive90, expire), rule(2, selUntagged1, expire)), nil},
	{"same prefixes in different storage classes", policyText(rule(1, selProd30d, expire),
		rule(2, `"tagStatus":"tagged","tagPrefixList":["prod"],"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)), nil},
	{"a prefix list and a pattern list with the same strings", policyText(rule(1, selProd30d, expire),
		rule(2, `"tagStatus":"tagged","tagPatternList":["prod"],"countType":"imageCountMoreThan","countNumber":3`, expire)), nil},
	{"transition by count and by push age", policyText(
		rule(1, `"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10`, archive),
		rule(2, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1`, archive)), nil},
	{"unicode, escapes and whitespace", "\n\t{ \"rules\" : [ {\"rulePriority\":1,\"description\":\"caf\\u00e9 ☕\",\"sel\\u0065ction\":{" +
		selUntagged1 + "},\"action\":{" + expire + "}} ] }\r\n", nil},
	{"fifty rules", fiftyRules(50), nil},
	{"longest text", padTo(policyText(rule(1, selUntagged1, expire)), MaxTextLength), nil},
}

// fiftyRules is n tagged rules with distinct prefixes.
func fiftyRules(n int) string {
	rules := make([]string, n)
	for i := range rules {
		rules[i] = rule(i+1, `"tagStatus":"tagged","tagPrefixList":["p`+strings.Repeat("x", i)+`"],"countType":"imageCountMoreThan","countNumber":1`, expire)
	}
	return policyText(rules...)
}

// padTo pads text with spaces to n characters if it is shorter.
func padTo(text string, n int) string { return text + strings.Repeat(" ", max(0, n-len(text))) }

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, c := range validPolicies {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, c.text)
			if p.Text() != c.text {
				t.Error("Text() is not the parsed text")
			}
			if c.rules != nil && !reflect.DeepEqual(p.Rules(), c.rules) {
				t.Errorf("rules =\n%+v\nwant\n%+v", p.Rules(), c.rules)
			}
			for i, r := range p.Rules() {
				if i > 0 && r.Priority <= p.Rules()[i-1].Priority {
					t.Errorf("rules not in ascending priority: %+v", p.Rules())
				}
				if got, ok := p.Rule(r.Priority); !ok || !reflect.DeepEqual(got, r) {
					t.Errorf("Rule(%d) = %+v, %v", r.Priority, got, ok)
				}
			}
			if _, ok := p.Rule(1000); ok {
				t.Error("Rule(1000) found")
			}
		})
	}
}

// invalidPolicies each break one rule; detail is the expected
// InvalidPolicyError.Detail. They also seed FuzzParse.
var invalidPolicies = []struct {
	name   string
	text   string
	detail string
}{
	// §5.2 rule 1: required fields.
	{"1 no rules", padTo(`{}`, 100), `rules is required`},
	{"1 no rulePriority", policyText(`{"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`), `rules[0].rulePriority is required`},
	{"1 no selection", policyText(`{"rulePriority":1,"action":{` + expire + `}}`), `rules[0].selection is required`},
	{"1 no tagStatus", policyText(rule(1, `"countType":"imageCountMoreThan","countNumber":1`, expire)), `rules[0].selection.tagStatus is required`},
	{"1 no countType", policyText(rule(1, `"tagStatus":"untagged","countNumber":1`, expire)), `rules[0].selection.countType is required`},
	{"1 no countNumber", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan"`, expire)), `rules[0].selection.countNumber is required`},
	{"1 no action", policyText(`{"rulePriority":1,"selection":{` + selUntagged1 + `}}`), `rules[0].action is required`},
	{"1 no action type", policyText(rule(1, selUntagged1, ``)), `rules[0].action.type is required`},
	// rule 2: unique priorities, at most 50 rules (the text length is TestParseLength's).
	{"2 duplicate rulePriority", policyText(rule(1, selUntagged1, expire), rule(2, selProd30d, expire), rule(1, selAny5, expire)),
		`rulePriority 1 is used by both rules[0] and rules[2]; each rule needs a unique rulePriority`},
	{"2 fifty-one rules", fiftyRules(51), `the policy has 51 rules; at most 50 are allowed`},
	// rule 3: tag lists.
	{"3 tagged without a list", policyText(rule(1, `"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection: Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED`},
	{"3 tagged with both lists", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":["a*"],"tagPrefixList":["b"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection: tagPatternList and tagPrefixList cannot both be set in one rule; use one of them`},
	{"3 untagged with a prefix list", policyText(rule(1, `"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList is not allowed with tagStatus "untagged"; only tagged rules filter by tag`},
	{"3 any with a pattern list", policyText(rule(1, `"tagStatus":"any","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPatternList is not allowed with tagStatus "any"; only tagged rules filter by tag`},
	{"3 any with an empty list", policyText(rule(1, `"tagStatus":"any","tagPrefixList":[],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList must not be empty`},
	{"3 tagged with an empty list", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":[],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPatternList must not be empty`},
	{"3 empty prefix", policyText(rule(1, `"tagStatus":"tagged","tagPrefixList":["v",""],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList[1] must not be empty`},
	{"3 prefix with a wildcard", policyText(rule(1, `"tagStatus":"tagged","tagPrefixList":["v*"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList[0] "v*" contains *; prefixes are literal, use tagPatternList for wildcards`},
	{"3 pattern longer than a tag", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":["`+strings.Repeat("a", 301)+`"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPatternList[0] is longer than 300 characters, the longest tag`},
	{"3 list of numbers", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":[1],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPatternList[0] must be a string, got a number`},
	{"3 list as a string", policyText(rule(1, `"tagStatus":"tagged","tagPrefixList":"prod","countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList must be an array of strings, got a string`},
	// rule 4: at most four wildcards.
	{"4 five wildcards", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":["ok*","a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPatternList[1] "a*b*c*d*e*f" has 5 wildcards (*); at most 4 are allowed`},
	// rule 5: countUnit.
	{"5 imageCountMoreThan with countUnit", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1`, expire)),
		`rules[0].selection.countUnit is not allowed with countType "imageCountMoreThan"`},
	{"5 sinceImagePushed without countUnit", policyText(rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1`, expire)),
		`rules[0].selection.countUnit is required with countType "sinceImagePushed" (its only value is "days")`},
	{"5 sinceImagePulled without countUnit", policyText(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countNumber":1`, archive)),
		`rules[0].selection.countUnit is required with countType "sinceImagePulled" (its only value is "days")`},
	{"5 sinceImageTransitioned without countUnit", policyText(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countNumber":90`, expire)),
		`rules[0].selection.countUnit is required with countType "sinceImageTransitioned" (its only value is "days")`},
	{"5 countUnit hours", policyText(rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"hours","countNumber":1`, expire)),
		`rules[0].selection.countUnit must be "days" (got "hours")`},
	// rule 6: countNumber positive integer.
	{"6 countNumber 0", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0`, expire)),
		`rules[0].selection.countNumber must be a positive integer (got 0)`},
	{"6 countNumber negative", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":-3`, expire)),
		`rules[0].selection.countNumber must be a positive integer (got -3)`},
	{"6 countNumber fraction", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1.5`, expire)),
		`rules[0].selection.countNumber must be an integer, got 1.5`},
	{"6 countNumber 1.0", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1.0`, expire)),
		`rules[0].selection.countNumber must be an integer, got 1.0`},
	{"6 countNumber exponent", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1e2`, expire)),
		`rules[0].selection.countNumber must be an integer, got 1e2`},
	{"6 countNumber string", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":"5"`, expire)),
		`rules[0].selection.countNumber must be an integer, got a string`},
	{"6 countNumber too large", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2147483648`, expire)),
		`rules[0].selection.countNumber must be at most 2147483647 (got 2147483648)`},
	{"6 countNumber huge negative", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":-99999999999999999999`, expire)),
		`rules[0].selection.countNumber must be a positive integer (got -99999999999999999999)`},
	{"6 rulePriority 0", policyText(rule(0, selUntagged1, expire)), `rules[0].rulePriority must be a positive integer (got 0)`},
	// rule 7: tagStatus any last per storage class.
	{"7 any before another standard rule", policyText(rule(2, selUntagged1, expire), rule(1, selAny5, expire)),
		`rules[1] (rulePriority 1) has tagStatus "any" but rules[0] (rulePriority 2) selects standard images after it: ` +
			`Rule for tagStatus=ANY must have the lowest priority per storage class (the highest rulePriority)`},
	{"7 two any rules in one class", policyText(rule(1, selAny5, expire), rule(2, selPulled90, archive)),
		`rules[0] (rulePriority 1) has tagStatus "any" but rules[1] (rulePriority 2) selects standard images after it: ` +
			`Rule for tagStatus=ANY must have the lowest priority per storage class (the highest rulePriority)`},
	{"7 archive any before an archive rule", policyText(rule(1, selArchive90, expire),
		rule(2, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`, expire)),
		`rules[0] (rulePriority 1) has tagStatus "any" but rules[1] (rulePriority 2) selects archive images after it: ` +
			`Rule for tagStatus=ANY must have the lowest priority per storage class (the highest rulePriority)`},
	// rule 8: storageClass archive ⇔ sinceImageTransitioned.
	{"8 archive with sinceImagePushed", policyText(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImagePushed","countUnit":"days","countNumber":100`, expire)),
		`rules[0].selection: storageClass "archive" requires countType "sinceImageTransitioned" (got "sinceImagePushed")`},
	{"8 archive with imageCountMoreThan", policyText(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"imageCountMoreThan","countNumber":100`, expire)),
		`rules[0].selection: storageClass "archive" requires countType "sinceImageTransitioned" (got "imageCountMoreThan")`},
	{"8 sinceImageTransitioned on standard", policyText(rule(1, `"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`, expire)),
		`rules[0].selection: countType "sinceImageTransitioned" requires storageClass "archive"`},
	{"8 unknown storage class", policyText(rule(1, `"tagStatus":"any","storageClass":"glacier","countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.storageClass must be one of "standard", "archive" (got "glacier")`},
	// rule 9: sinceImagePulled only transitions.
	{"9 sinceImagePulled with expire", policyText(rule(1, selPulled90, expire)),
		`rules[0]: countType "sinceImagePulled" can only be used with action type "transition"`},
	// rule 10: sinceImageTransitioned only expires (an archive rule cannot transition: rule 8 or 11 fires first otherwise).
	{"10 sinceImageTransitioned with transition", policyText(rule(1, selArchive90, archive)),
		`rules[0]: countType "sinceImageTransitioned" can only be used with action type "expire"`},
	// rule 11: transition needs targetStorageClass archive.
	{"11 transition without target", policyText(rule(1, selPulled90, `"type":"transition"`)),
		`rules[0].action.targetStorageClass is required with action type "transition" (its only value is "archive")`},
	{"11 transition to standard", policyText(rule(1, selPulled90, `"type":"transition","targetStorageClass":"standard"`)),
		`rules[0].action.targetStorageClass must be "archive" (got "standard")`},
	{"11 expire with a target", policyText(rule(1, selUntagged1, `"type":"expire","targetStorageClass":"archive"`)),
		`rules[0].action.targetStorageClass is not allowed with action type "expire"`},
	{"11 unknown action", policyText(rule(1, selUntagged1, `"type":"delete"`)),
		`rules[0].action.type must be one of "expire", "transition" (got "delete")`},
	// rule 12: 90-day minimum in archive.
	{"12 sinceImageTransitioned 89 days", policyText(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":89`, expire)),
		`rules[0].selection.countNumber must be at least 90 with countType "sinceImageTransitioned" (got 89): archived images have a 90-day minimum storage duration`},
	// rule 13: unique filters, one untagged rule per storage class.
	{"13 same prefix set", policyText(rule(1, selProd30d, expire),
		rule(2, `"tagStatus":"tagged","tagPrefixList":["prod","prod"],"countType":"imageCountMoreThan","countNumber":3`, expire)),
		`rules[0] and rules[1] select standard images with the same tagPrefixList; each rule's tag filter must be unique per storage class`},
	{"13 same pattern set in another order", policyText(
		rule(1, `"tagStatus":"tagged","tagPatternList":["a*","b*"],"countType":"imageCountMoreThan","countNumber":3`, expire),
		rule(2, `"tagStatus":"tagged","tagPatternList":["b*","a*"],"countType":"imageCountMoreThan","countNumber":5`, archive)),
		`rules[0] and rules[1] select standard images with the same tagPatternList; each rule's tag filter must be unique per storage class`},
	{"13 two untagged rules", policyText(rule(1, selUntagged1, expire),
		rule(2, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3`, expire)),
		`Only one rule can select Untagged images per storage class: rules[0] and rules[1] both select untagged standard images`},
	// rule 14: null.
	{"14 null targetStorageClass", policyText(rule(1, selUntagged1, `"type":"expire","targetStorageClass":null`)),
		`rules[0].action.targetStorageClass must not be null`},
	{"14 null description", policyText(`{"rulePriority":1,"description":null,"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`),
		`rules[0].description must not be null`},
	{"14 null rules", padTo(`{"rules":null}`, 100), `rules must not be null`},
	{"14 null rule", policyText(`null`), `rules[0] must be an object, got null`},
	{"14 null in a list", policyText(rule(1, `"tagStatus":"tagged","tagPrefixList":[null],"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagPrefixList[0] must be a string, got null`},
	// Strict JSON.
	{"json syntax error", padTo(`{"rules":[}`, 100), `the policy is not valid JSON: invalid character '}' looking for beginning of value (at character 11)`},
	{"json truncated", padTo(`{"rules":[`, 100), `the policy is not valid JSON: unexpected end of text`},
	{"json trailing data", padTo(`{"rules":[]}`, 100) + `{}`, `the policy is not valid JSON: invalid character '{' after top-level value (at character 101)`},
	{"json trailing garbage", padTo(`{"rules":[]}`, 99) + ` x`, `the policy is not valid JSON: invalid character 'x' after top-level value (at character 101)`},
	{"json trailing comma", padTo(`{"rules":[],}`, 100), `the policy is not valid JSON: invalid character '}' looking for beginning of object key string (at character 13)`},
	{"json control character", padTo(`{"rules":"`+"\x01"+`"}`, 100), `the policy is not valid JSON: invalid character '\x01' in string literal (at character 11)`},
	{"json not an object", padTo(`["rules"]`, 100), `the policy must be a JSON object with a "rules" array, got an array`},
	{"json duplicate key", policyText(`{"rulePriority":1,"rulePriority":2,"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`),
		`rules[0] has the field "rulePriority" more than once`},
	{"json duplicate key through an escape", policyText(`{"rulePriority":1,"selection":{` + selUntagged1 + `,"count\u004eumber":2},"action":{` + expire + `}}`),
		`rules[0].selection has the field "countNumber" more than once`},
	{"json unknown top-level field", padTo(`{"rules":[`+rule(1, selUntagged1, expire)+`],"version":1}`, 100),
		`the policy has the unknown field "version"; allowed fields are rules`},
	{"json unknown rule field", policyText(`{"rulePriority":1,"priority":1,"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`),
		`rules[0] has the unknown field "priority"; allowed fields are rulePriority, description, selection, action`},
	{"json field name case", policyText(`{"RulePriority":1,"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`),
		`rules[0] has the unknown field "RulePriority" (field names are case-sensitive: did you mean "rulePriority"?)`},
	{"json enum case", policyText(rule(1, `"tagStatus":"UNTAGGED","countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagStatus must be one of "tagged", "untagged", "any" (got "UNTAGGED")`},
	{"json enum wrong type", policyText(rule(1, `"tagStatus":true,"countType":"imageCountMoreThan","countNumber":1`, expire)),
		`rules[0].selection.tagStatus must be a string, one of "tagged", "untagged", "any", got a boolean`},
	{"json rules object", padTo(`{"rules":{"rulePriority":1}}`, 100), `rules must be an array, got an object`},
	{"json no rule", padTo(`{"rules":[]}`, 100), `rules must contain at least one rule`},
	{"json description number", policyText(`{"rulePriority":1,"description":7,"selection":{` + selUntagged1 + `},"action":{` + expire + `}}`),
		`rules[0].description must be a string, got a number`},
	{"json selection array", policyText(`{"rulePriority":1,"selection":[],"action":{` + expire + `}}`), `rules[0].selection must be an object, got an array`},
	{"json invalid UTF-8", policyText(rule(1, selUntagged1, expire)) + "\xff", `the policy text is not valid UTF-8`},
	{"json long unknown key is clipped", policyText(`{"` + strings.Repeat("k", 100) + `":1}`),
		`rules[0] has the unknown field "` + strings.Repeat("k", 64) + `"…; allowed fields are rulePriority, description, selection, action`},
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, c := range invalidPolicies {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(c.text)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v\n%s", p.Rules(), c.text)
			}
			var e *InvalidPolicyError
			if p != nil || !errors.As(err, &e) || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Parse = %v, %#v", p, err)
			}
			if e.Detail != c.detail {
				t.Errorf("detail\n got %s\nwant %s", e.Detail, c.detail)
			}
			want := "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: " + c.detail + "'"
			if e.Length || e.Message() != want || err.Error() != want {
				t.Errorf("message = %q", e.Message())
			}
		})
	}
}

// TestSpecExample8 is spec §5.4 example 8: each invalid policy (a)–(k) is
// refused for the reason the example gives.
func TestSpecExample8(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, text, detail string }{
		{"a any at priority 1, another rule at 2", policyText(rule(1, selAny5, expire), rule(2, selUntagged1, expire)),
			`rules[0] (rulePriority 1) has tagStatus "any" but rules[1] (rulePriority 2) selects standard images after it`},
		{"b tagged without any list", policyText(rule(1, `"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1`, expire)),
			`Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED`},
		{"c untagged with tagPrefixList", policyText(rule(1, `"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
			`rules[0].selection.tagPrefixList is not allowed with tagStatus "untagged"`},
		{"d imageCountMoreThan with countUnit", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1`, expire)),
			`rules[0].selection.countUnit is not allowed with countType "imageCountMoreThan"`},
		{"e sinceImagePushed without countUnit", policyText(rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1`, expire)),
			`rules[0].selection.countUnit is required with countType "sinceImagePushed"`},
		{"f countNumber 0", policyText(rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0`, expire)),
			`rules[0].selection.countNumber must be a positive integer (got 0)`},
		{"g duplicate rulePriority", policyText(rule(1, selUntagged1, expire), rule(1, selProd30d, expire)),
			`rulePriority 1 is used by both rules[0] and rules[1]`},
		{"h five wildcards", policyText(rule(1, `"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1`, expire)),
			`rules[0].selection.tagPatternList[0] "a*b*c*d*e*f" has 5 wildcards (*); at most 4 are allowed`},
		{"i sinceImagePulled with expire", policyText(rule(1, selPulled90, expire)),
			`rules[0]: countType "sinceImagePulled" can only be used with action type "transition"`},
		{"j transition without targetStorageClass", policyText(rule(1, selPulled90, `"type":"transition"`)),
			`rules[0].action.targetStorageClass is required with action type "transition"`},
		{"k shorter than 100 characters", `{"rules":[]}`, `Member must have length greater than or equal to 100`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var e *InvalidPolicyError
			if _, err := Parse(c.text); !errors.As(err, &e) || !strings.Contains(e.Detail, c.detail) {
				t.Errorf("Parse(%s) = %v, want a detail with %q", c.text, err, c.detail)
			}
		})
	}
}

// TestParseLength checks the model's bounds (100–30,720 characters, not
// bytes). No valid policy is as short as 100 characters, so the short
// texts show which check refused them.
func TestParseLength(t *testing.T) {
	t.Parallel()
	const lengthShort, lengthLong = "Member must have length greater than or equal to 100", "Member must have length less than or equal to 30720"
	empty := `{"rules":[]}`
	withDescription := func(chars int, fill string) string {
		base := `{"rules":[{"rulePriority":1,"description":"","selection":{` + selUntagged1 + `},"action":{` + expire + `}}]}`
		desc := strings.Repeat(fill, chars-utf8.RuneCountInString(base))
		return strings.Replace(base, `"description":""`, `"description":"`+desc+`"`, 1)
	}
	for _, c := range []struct {
		name   string
		text   string
		detail string // "" = valid
	}{
		{"empty", "", lengthShort},
		{"99 characters", padTo(empty, 99), lengthShort},
		{"100 characters", padTo(empty, 100), "rules must contain at least one rule"},
		{"99 characters in 273 bytes", empty + strings.Repeat("\u2003", 87), lengthShort},
		{"100 characters in 276 bytes", empty + strings.Repeat("\u2003", 88),
			"the policy is not valid JSON: invalid character '\\u2003' after top-level value (at character 13)"},
		{"30720 characters", withDescription(MaxTextLength, "d"), ""},
		{"30720 characters in more bytes", withDescription(MaxTextLength, "é"), ""},
		{"30721 characters", withDescription(MaxTextLength+1, "d"), lengthLong},
		{"30721 characters in more bytes", withDescription(MaxTextLength+1, "é"), lengthLong},
	} {
		_, err := Parse(c.text)
		if c.detail == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var e *InvalidPolicyError
		if !errors.As(err, &e) || e.Detail != c.detail {
			t.Errorf("%s: Parse = %v, want detail %q", c.name, err, c.detail)
			continue
		}
		if length := strings.HasPrefix(c.detail, "Member"); e.Length != length {
			t.Errorf("%s: Length = %v", c.name, e.Length)
		} else if length && e.Message() != "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '"+c.detail+"'" {
			t.Errorf("%s: message %q", c.name, e.Message())
		}
	}
}
