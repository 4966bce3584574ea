package lifecycle

import "slices"

// Limits of the policy grammar (spec §5.1–5.2).
const (
	// MinTextLength and MaxTextLength bound the policy text in characters (the
	// model's LifecyclePolicyText constraint).
	MinTextLength = 100
	MaxTextLength = 30720
	// MaxRules is the most rules one policy may have.
	MaxRules = 50
	// MaxWildcards is the most '*' one tagPatternList entry may contain.
	MaxWildcards = 4
	// MaxTagFilterLength bounds one tagPatternList or tagPrefixList entry, the
	// longest tag ECR stores (ImageTag, 300 characters).
	MaxTagFilterLength = 300
	// MaxCount bounds rulePriority and countNumber (a 32-bit integer, as in the model).
	MaxCount = 1<<31 - 1
	// MinArchiveDays is the archive class's minimum storage duration: a
	// sinceImageTransitioned rule must wait at least this many days.
	MinArchiveDays = 90
)

// TagStatus says which images a rule selects by their tags. The values are
// the ECR API's TagStatus enum (also the preview filter's); the policy JSON
// spells them in lower case.
type TagStatus string

// Tag statuses.
const (
	TagStatusTagged   TagStatus = "TAGGED"
	TagStatusUntagged TagStatus = "UNTAGGED"
	TagStatusAny      TagStatus = "ANY"
)

// StorageClass is an image's storage class, as the ECR API spells it
// (LifecyclePolicyStorageClass); the policy JSON spells it in lower case.
type StorageClass string

// Storage classes. The zero value of an Image's StorageClass means Standard.
const (
	Standard StorageClass = "STANDARD"
	Archive  StorageClass = "ARCHIVE"
)

// CountType is how a rule decides which of the images it selects to act on.
// The values are the policy JSON's spellings.
type CountType string

// Count types.
const (
	// ImageCountMoreThan keeps the CountNumber newest selected images and acts on the rest.
	ImageCountMoreThan CountType = "imageCountMoreThan"
	// SinceImagePushed acts on images pushed (or restored) more than CountNumber days ago.
	SinceImagePushed CountType = "sinceImagePushed"
	// SinceImagePulled acts on images not pulled for more than CountNumber days.
	SinceImagePulled CountType = "sinceImagePulled"
	// SinceImageTransitioned acts on images archived more than CountNumber days ago.
	SinceImageTransitioned CountType = "sinceImageTransitioned"
)

// ActionType is what a rule does to the images it acts on, as the ECR API
// spells it (ImageActionType); the policy JSON spells it in lower case.
type ActionType string

// Action types.
const (
	Expire     ActionType = "EXPIRE"
	Transition ActionType = "TRANSITION"
)

// Action is a rule's action, shaped like the API's LifecyclePolicyRuleAction:
// TargetStorageClass is Archive for Transition and empty for Expire.
type Action struct {
	Type               ActionType
	TargetStorageClass StorageClass
}

// Selection is a rule's selection block, with enum values normalized (see
// the types) and defaults applied: StorageClass is Standard when the policy
// omits it. Exactly one of TagPatternList and TagPrefixList is set when
// TagStatus is TagStatusTagged; neither otherwise.
type Selection struct {
	TagStatus      TagStatus
	TagPatternList []string
	TagPrefixList  []string
	StorageClass   StorageClass
	CountType      CountType
	CountUnit      string // "days" for the since* count types, "" for ImageCountMoreThan
	CountNumber    int
}

// Rule is one validated rule of a policy.
type Rule struct {
	Priority    int
	Description string
	Selection   Selection
	Action      Action
}

// Policy is a parsed, validated lifecycle policy. It is immutable and safe
// for concurrent use; build one with Parse.
type Policy struct {
	text    string
	rules   []Rule      // ascending Priority
	filters []tagFilter // compiled tag filters, parallel to rules
}

// Text returns the policy text exactly as it was parsed.
func (p *Policy) Text() string { return p.text }

// Rules returns the policy's rules in evaluation order (ascending priority).
// The slice is a copy; the tag lists inside are shared and must not be modified.
func (p *Policy) Rules() []Rule { return slices.Clone(p.rules) }

// Rule returns the rule with the given priority.
func (p *Policy) Rule(priority int) (Rule, bool) {
	i, ok := slices.BinarySearchFunc(p.rules, priority, func(r Rule, prio int) int { return r.Priority - prio })
	if !ok {
		return Rule{}, false
	}
	return p.rules[i], true
}
