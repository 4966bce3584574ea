package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// Basis says which of an image's times a since* rule measured its age from.
type Basis string

// Bases.
const (
	BasisPushed   Basis = "pushed"   // PushedAt
	BasisRestored Basis = "restored" // LastActivatedAt
	BasisPulled   Basis = "pulled"   // LastRecordedPullTime
	BasisArchived Basis = "archived" // LastArchivedAt
)

// Decision is what lifecycle does to one image, and why.
type Decision struct {
	// Index is the image's position in the slice given to Evaluate.
	Index  int
	Digest digest.Digest
	Action Action
	// RulePriority is the rule that acts (the preview's appliedRulePriority);
	// for an image following its subject, the rule that acted on the subject.
	RulePriority int
	// CountType and CountNumber are that rule's.
	CountType   CountType
	CountNumber int
	// Rank, for ImageCountMoreThan, is the image's 1-based position among
	// the images the rule selects, newest first (so Rank > CountNumber).
	Rank int
	// Since and Basis, for the since* count types, are the instant the age
	// was measured from and which of the image's times it is.
	Since time.Time
	Basis Basis
	// Subject is set when the image is a referrer acted on because its
	// subject (this digest) was: it takes the subject's action and rule.
	Subject digest.Digest
}

// Reason says in a sentence why the decision was taken, for logs and audit records.
func (d Decision) Reason() string {
	switch {
	case d.Subject != "":
		return fmt.Sprintf("follows its subject %s, acted on by rule %d (%s %d)", d.Subject, d.RulePriority, d.CountType, d.CountNumber)
	case d.CountType == ImageCountMoreThan:
		return fmt.Sprintf("rule %d (imageCountMoreThan %d): number %d of the images it selects, newest first",
			d.RulePriority, d.CountNumber, d.Rank)
	default:
		return fmt.Sprintf("rule %d (%s %d days): %s %s, more than %d days before the evaluation",
			d.RulePriority, d.CountType, d.CountNumber, d.Basis, d.Since.UTC().Format(time.RFC3339), d.CountNumber)
	}
}

// Result is the outcome of one evaluation.
type Result struct {
	// Decisions are the actions to take, at most one per image, ordered by
	// RulePriority, then images acted on by the rule itself before those
	// following a subject, then newest first (ties by digest).
	Decisions []Decision
	// Held are decisions not taken in this run because an image index in
	// the repository still lists the image (see the package documentation),
	// in the same order. They are not in the summary.
	Held []Decision
	// Summary counts Decisions as GetLifecyclePolicyPreview reports them.
	Summary Summary
}

// Summary is the preview's LifecyclePolicyPreviewSummary.
type Summary struct {
	ExpiringImageTotalCount int
	// TransitioningImageTotalCounts has one entry per target storage class
	// with at least one image, and is empty otherwise (the API then omits it).
	TransitioningImageTotalCounts []TransitionCount
}

// TransitionCount is the API's TransitioningImageTotalCount.
type TransitionCount struct {
	TargetStorageClass StorageClass
	ImageTotalCount    int
}

// Evaluate applies the policy to the images of one repository at the
// instant now, as spec §5.3 describes (and the package documentation
// details). It is pure and deterministic: the same images in any order give
// the same decisions. A nil policy decides nothing.
func Evaluate(p *Policy, images []Image, now time.Time) Result {
	e := newEvaluation(images, now)
	if p != nil {
		e.rules = p.rules
		for i := range p.rules {
			e.apply(int32(i), &p.filters[i])
		}
	}
	e.followSubjects()
	return e.result()
}

// result turns the marks into decisions, in the documented order. Marks of
// the rules are already in it (rules run in priority order, each walking
// the images newest first); followers are sorted and merged in after the
// rule's own decisions.
func (e *evaluation) result() Result {
	byRuleThenAge := func(a, b mark) int {
		if c := cmp.Compare(a.rule, b.rule); c != 0 {
			return c
		}
		return cmp.Compare(e.pos[a.img], e.pos[b.img])
	}
	slices.SortFunc(e.followed, byRuleThenAge)
	slices.SortFunc(e.followedHeld, byRuleThenAge)
	res := Result{Decisions: e.merge(e.marks, e.followed), Held: e.merge(e.held, e.followedHeld)}
	archived := 0
	for i := range res.Decisions {
		if res.Decisions[i].Action.Type == Expire {
			res.Summary.ExpiringImageTotalCount++
		} else {
			archived++
		}
	}
	if archived > 0 {
		res.Summary.TransitioningImageTotalCounts = []TransitionCount{{TargetStorageClass: Archive, ImageTotalCount: archived}}
	}
	return res
}

// merge materializes two ordered mark lists, own before followers within a rule.
func (e *evaluation) merge(own, followers []mark) []Decision {
	if len(own)+len(followers) == 0 {
		return nil
	}
	out := make([]Decision, 0, len(own)+len(followers))
	for len(own)+len(followers) > 0 {
		if len(followers) == 0 || len(own) > 0 && own[0].rule <= followers[0].rule {
			out = append(out, e.decision(own[0]))
			own = own[1:]
		} else {
			out = append(out, e.decision(followers[0]))
			followers = followers[1:]
		}
	}
	return out
}

func (e *evaluation) decision(m mark) Decision {
	r := &e.rules[m.rule]
	d := Decision{Index: int(m.img), Digest: e.images[m.img].Digest, Action: r.Action, RulePriority: r.Priority,
		CountType: r.Selection.CountType, CountNumber: r.Selection.CountNumber, Rank: int(m.rank)}
	switch {
	case m.subject >= 0:
		d.Subject = e.images[m.subject].Digest
	case r.Selection.CountType != ImageCountMoreThan:
		d.Since, d.Basis = e.ageBasis(m.img, r.Selection.CountType)
	}
	return d
}
