package identity

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// constraint is a string shape of the IAM service model (min/max length in
// characters and the pattern, which IAM applies to the whole value).
type constraint struct {
	min, max int
	pattern  string // as the model writes it, for messages
	re       *regexp.Regexp
}

// shape compiles a model pattern; the model's \uXXXX escapes become RE2's
// \x{XXXX}.
func shape(min, max int, pattern string) constraint {
	c := constraint{min: min, max: max, pattern: pattern}
	if pattern != "" {
		re := regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`).ReplaceAllString(pattern, `\x{$1}`)
		c.re = regexp.MustCompile(`^(?:` + re + `)$`)
	}
	return c
}

// Shapes of iam-2010-05-08.service.json, named after the model's.
var (
	userNameType         = shape(1, 64, `[\w+=,.@-]+`)
	existingUserNameType = shape(1, 128, `[\w+=,.@-]+`)
	pathType             = shape(1, 512, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	pathPrefixType       = shape(1, 512, `\u002F[\u0021-\u007F]*`)
	policyPathType       = shape(1, 512, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`)
	policyNameType       = shape(1, 128, `[\w+=,.@-]+`)
	policyDocumentType   = shape(1, 131072, `[\u0009\u000A\u000D\u0020-\u00FF]+`)
	policyDescription    = shape(0, 1000, "")
	policyVersionIDType  = shape(0, 0, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	arnType              = shape(20, 2048, "")
	accessKeyIDType      = shape(16, 128, `[\w]+`)
	tagKeyType           = shape(1, 128, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	tagValueType         = shape(0, 256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	markerType           = shape(1, 320, `[\u0020-\u00FF]+`)
	anyString            = shape(0, 0, "")
)

// List and number bounds of the model.
const (
	maxTagList   = 50 // tagListType, tagKeyListType
	minMaxItems  = 1  // maxItemsType
	maxMaxItems  = 1000
	defaultItems = 100 // IAM's default page size
)

// Enum values of the model.
var (
	statusValues      = []string{"Active", "Inactive", "Expired"}
	scopeValues       = []string{"All", "AWS", "Local"}
	policyUsageValues = []string{"PermissionsPolicy", "PermissionsBoundary"}
)

// check collects constraint violations and reports them as IAM does:
// "N validation error(s) detected: Value 'x' at 'member' failed to satisfy
// constraint: …; …". Members are named as IAM names them (lower camel case).
type check struct{ problems []string }

func (c *check) fail(value, member, constraint string) {
	c.problems = append(c.problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

// required checks a member that must be present.
func (c *check) required(member, v string, k constraint) {
	if v == "" {
		c.fail("null", member, "Member must not be null")
		return
	}
	c.str(member, v, k)
}

// optional checks a member when it is present.
func (c *check) optional(member, v string, k constraint) {
	if v != "" {
		c.str(member, v, k)
	}
}

func (c *check) str(member, v string, k constraint) {
	n := utf8.RuneCountInString(v)
	switch {
	case k.min > 0 && n < k.min:
		c.fail(quote(v), member, fmt.Sprintf("Member must have length greater than or equal to %d", k.min))
	case k.max > 0 && n > k.max:
		c.fail(quote(v), member, fmt.Sprintf("Member must have length less than or equal to %d", k.max))
	case k.re != nil && !k.re.MatchString(v):
		c.fail(quote(v), member, "Member must satisfy regular expression pattern: "+k.pattern)
	}
}

func (c *check) enum(member, v string, values []string) {
	if v != "" && !slices.Contains(values, v) {
		c.fail(quote(v), member, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
	}
}

func (c *check) listLen(member string, n int, values []string) {
	if n > maxTagList {
		c.fail(quote("["+strings.Join(values, ", ")+"]"), member,
			fmt.Sprintf("Member must have length less than or equal to %d", maxTagList))
	}
}

func (c *check) tags(member string, tags []Tag) {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = t.Key
	}
	c.listLen(member, len(tags), keys)
	for i, t := range tags {
		at := member + "." + strconv.Itoa(i+1) + ".member."
		c.required(at+"key", t.Key, tagKeyType)
		c.str(at+"value", t.Value, tagValueType)
	}
}

func (c *check) page(o ListOptions) {
	c.optional("marker", o.Marker, markerType)
	if o.MaxItems != 0 && o.MaxItems < minMaxItems {
		c.fail(quote(strconv.Itoa(o.MaxItems)), "maxItems", "Member must have value greater than or equal to 1")
	}
	if o.MaxItems > maxMaxItems {
		c.fail(quote(strconv.Itoa(o.MaxItems)), "maxItems", "Member must have value less than or equal to 1000")
	}
}

func (c *check) err() error {
	switch len(c.problems) {
	case 0:
		return nil
	case 1:
		return &Error{Kind: ErrValidation, Message: "1 validation error detected: " + c.problems[0]}
	}
	return &Error{Kind: ErrValidation, Message: fmt.Sprintf("%d validation errors detected: %s",
		len(c.problems), strings.Join(c.problems, "; "))}
}

func quote(v string) string { return "'" + v + "'" }

// policySize counts a document as IAM's quotas do: characters, whitespace
// excluded.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// checkTags applies IAM's rules beyond the model: keys unique
// case-insensitively, and the aws: prefix reserved.
func checkTags(tags []Tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return errorf(ErrInvalidInput, "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
		if strings.HasPrefix(k, "aws:") {
			return errorf(ErrInvalidInput, "Tag keys starting with 'aws:' are reserved for AWS use.")
		}
	}
	return nil
}
