// Package lifecycle is the pure engine behind ECR lifecycle policies
// (spec/ecr-behavior.md §5): Parse validates a policy as PutLifecyclePolicy
// and StartLifecyclePolicyPreview do, and Evaluate decides, for the images of
// one repository at one instant, which to expire and which to archive. The
// preview API and the background runs both call Evaluate; the I/O (reading
// images from the store, deleting, archiving, audit) lives in their callers.
//
// It is a leaf package: standard library and go-digest only, no I/O, no
// clock (the caller passes now), no mutable state. A *Policy is immutable.
//
// # Validation
//
// Parse refuses a policy with an *InvalidPolicyError (errors.Is(err,
// ErrInvalidPolicy)); its Message is the text ECR sends with
// InvalidParameterException:
//
//	Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: <detail>'
//
// The detail names the first problem in document order and where it is, as
// a JSON path with 0-based indices (rules[1].selection.countNumber); where
// AWS's wording is known it is used ("Must specify tagPrefixList or
// tagPatternList when tagStatus=TAGGED"). Checks, in order:
//
//   - Length: 100 to 30,720 characters (Unicode code points), checked first;
//     the error then carries the model's wording ("Member must have length
//     greater than or equal to 100") and Length is set. The text must be
//     valid UTF-8.
//   - Strict JSON: exactly one JSON object, nothing after it. Field names
//     are case-sensitive and unknown fields are refused (with a hint when
//     only the case differs). A field given twice in one object is refused:
//     AWS's behaviour is unverified, and parsers disagree on which copy wins,
//     so such a policy has no single meaning. JSON null is refused anywhere
//     (§5.2 rule 14). Wrong types are refused. Integers must be integer
//     literals (1.0 and 1e2 are not, as in JSON Schema) from 1 to 2^31-1.
//     Enum values are exact and lower-case as the policy grammar spells them
//     ("tagged", not "TAGGED"). description is any string.
//   - rules is an array of 1 to 50 rules (§5.2 rule 2; an empty list is
//     refused: a policy must do something).
//   - Per rule, each field's presence and type (rule 1: rulePriority,
//     selection.tagStatus, selection.countType, selection.countNumber and
//     action.type are required; rule 6: countNumber and rulePriority are
//     positive), then:
//   - Rule 3: tagStatus "tagged" needs exactly one of tagPatternList and
//     tagPrefixList; "untagged" and "any" take neither, not even an empty
//     list. A list is a non-empty array of non-empty strings of at most 300
//     characters (the longest tag). Decision: a prefix may not contain '*'
//     (prefixes are literal, so it could match no tag; the error points to
//     tagPatternList).
//   - Rule 4: at most 4 '*' in each tagPatternList entry.
//   - Rule 5: countUnit ("days", its only value) is required with the since*
//     count types and refused with imageCountMoreThan.
//   - Rule 8: storageClass "archive" if and only if countType
//     "sinceImageTransitioned"; storageClass defaults to "standard".
//   - Rule 12: sinceImageTransitioned needs countNumber ≥ 90, the archive
//     class's minimum storage duration (the exact AWS error is unverified).
//   - Rule 11: action "transition" needs targetStorageClass "archive";
//     "expire" takes none.
//   - Rules 9 and 10: sinceImagePulled only transitions, and
//     sinceImageTransitioned only expires.
//   - Across rules: rulePriority values are unique (rule 2); a tagStatus
//     "any" rule has the highest rulePriority among the rules of its storage
//     class (rule 7, per storage class as AWS's message says); among rules of
//     one storage class, at most one is "untagged" and no two tagged rules
//     have the same filter (rule 13). Filters are compared as sets (order
//     and repeats do not matter) and per kind: a prefix list never equals a
//     pattern list. An "any" rule may coexist with an "untagged" one.
//
// # Evaluation
//
// Evaluate follows the reference algorithm of spec §5.3. The images are
// ordered newest first by their effective push time, the later of PushedAt
// and LastActivatedAt (a restore counts as a fresh push); images with equal
// times are ordered by digest, the smaller digest counting as the newer, so
// the result never depends on the order of the input. Rules then run in
// ascending rulePriority. Each selects, among the images of its storage
// class, those its tag status and filter accept: "untagged" wants no tag,
// "any" takes all, "tagged" wants every pattern (or prefix) of its list
// matched by at least one of the image's tags (AND across the list; one tag
// may satisfy several entries). A pattern's '*' matches any run of
// characters, including none; matching is case-sensitive and whole-tag. The
// rule walks its selection newest first and designates:
//
//   - imageCountMoreThan N: every image after the first N (Decision.Rank is
//     the image's 1-based position);
//   - sinceImagePushed N: images whose effective push time is more than N
//     days old;
//   - sinceImagePulled N: images whose latest of LastRecordedPullTime,
//     LastActivatedAt and PushedAt is more than N days old (never pulled:
//     push time; restored and not pulled since: the restore);
//   - sinceImageTransitioned N: archived images whose LastArchivedAt is more
//     than N days old.
//
// "More than N days" means now − t > N×24h exactly: an image exactly N days
// old is kept, one nanosecond older is not. Days are 24-hour periods, free
// of calendars and time zones. A zero time (unknown) is never old enough,
// a time after now is young, and a countNumber too large for a Duration
// designates nothing.
//
// A rule acts on a designated image unless a higher rule selected it:
// selecting an image claims it even when the claiming rule keeps it, yet
// lower rules still count and rank claimed images (spec examples 3 and 4).
// So an image is acted on by at most one rule.
//
// Images is the whole repository, each digest once; an image in neither
// storage class (an unknown StorageClass; the zero value means Standard) is
// selected by no rule. An image whose restore is under way (ACTIVATING) is
// best passed as Standard with LastActivatedAt set to the restore request.
//
// # Image indexes
//
// An image that an index (manifest list) of the repository lists, per
// Image.ReferencedBy, is held rather than acted on while the index needs it:
// it is never expired while any listing index remains (in either class:
// deleting the child of an archived index would make the index impossible
// to restore), and never archived while any listing index is Standard
// (pullable). A parent missing from the images counts as Standard. Held
// decisions are reported in Result.Held, are not in the summary, and the
// held image stays claimed by its rule. Decision: when the index itself is
// expired or archived in the same run, its children stay held in that run
// and become candidates in the next one, once the store no longer lists the
// index (or lists it as archived). So a run never depends on another
// action of the same run having succeeded, and the caller may apply
// decisions in any order; ECR itself only promises action within 24 hours.
//
// # Referrers
//
// A referrer (signature, SBOM, attestation: an image whose Subject is
// another image of the repository) belongs to its subject. Decision: no rule
// selects or counts it, so an "untagged" rule does not delete the
// signatures of images it keeps and signatures do not take imageCountMoreThan
// slots. When its subject is expired or archived, the referrer follows in
// the same run, with the same action and the subject's rule
// (Decision.RulePriority), and Decision.Subject names the subject; this is
// transitive (a signature of an SBOM follows the SBOM). A referrer already
// archived when its subject is archived gets no decision, but its own
// referrers still follow. Index holding applies to referrers too. A
// referrer whose subject is not in the repository (an orphan) is an
// ordinary image that rules select and count, so policies can clean orphans
// up. An image naming itself as subject is not a referrer.
//
// # Result
//
// Result.Decisions lists at most one decision per image, ordered by
// RulePriority, then the rule's own decisions before referrers following a
// subject, then newest first; Result.Held likewise. Decision.Reason words
// why, for logs and audit records. Result.Summary counts the decisions as
// GetLifecyclePolicyPreview reports them (expiringImageTotalCount, and
// transitioningImageTotalCounts only when an image transitions).
//
// Evaluate costs O(n log n) to order the images plus O(rules × n) tag
// matches; indexes and referrers are resolved through one digest map, never
// by pairwise scans. On a 100,000-image repository with a six-rule policy it
// takes about 0.15 s of CPU and 34 MB (BenchmarkEvaluate100k).
package lifecycle
