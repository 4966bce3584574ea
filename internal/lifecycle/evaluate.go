package lifecycle

import (
	"cmp"
	"fmt"
	"math"
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
		for i := range p.rules {
			e.apply(&p.rules[i], &p.filters[i])
		}
	}
	e.followSubjects()
	return e.result()
}

const (
	outcomeNone    uint8 = iota
	outcomeDecided       // in decisions
	outcomeHeld          // in held
	outcomePassed        // a referrer already in the target class; its own referrers still follow
)

type imageState struct {
	pushed   time.Time // effective push time
	order    int32     // position newest first
	class    uint8
	follower bool // a referrer whose subject is in the repository: not for rules to select
	claimed  bool // selected by a rule already applied
	outcome  uint8
}

type evaluation struct {
	images    []Image
	now       time.Time
	state     []imageState
	order     []int32 // image indices, newest first, ties by digest
	byDigest  map[digest.Digest]int32
	decisions []Decision
	held      []Decision
}

func newEvaluation(images []Image, now time.Time) *evaluation {
	e := &evaluation{images: images, now: now, state: make([]imageState, len(images)), order: make([]int32, len(images))}
	linked := false
	for i := range images {
		img := &images[i]
		e.state[i] = imageState{pushed: img.effectivePush(), class: classCode(img.StorageClass)}
		e.order[i] = int32(i)
		linked = linked || img.Subject != "" || len(img.ReferencedBy) > 0
	}
	slices.SortFunc(e.order, func(a, b int32) int {
		if c := e.state[b].pushed.Compare(e.state[a].pushed); c != 0 {
			return c
		}
		return cmp.Compare(images[a].Digest, images[b].Digest)
	})
	for pos, i := range e.order {
		e.state[i].order = int32(pos)
	}
	if linked {
		e.byDigest = make(map[digest.Digest]int32, len(images))
		for i := range images {
			e.byDigest[images[i].Digest] = int32(i)
		}
		for i := range images {
			s := images[i].Subject
			if _, ok := e.byDigest[s]; ok && s != images[i].Digest {
				e.state[i].follower = true
			}
		}
	}
	return e
}

// apply runs one rule over the repository: it walks the images it selects
// newest first, acts on those its count designates unless a higher rule
// selected them, and claims every image it selects.
func (e *evaluation) apply(r *Rule, f *tagFilter) {
	want := classCode(r.Selection.StorageClass)
	limit, finite := ageLimit(r.Selection.CountNumber)
	rank := 0
	for _, i := range e.order {
		s := &e.state[i]
		if s.follower || s.class != want || !f.selects(e.images[i].Tags) {
			continue
		}
		rank++
		if s.claimed {
			continue
		}
		s.claimed = true
		d := Decision{Index: int(i), Digest: e.images[i].Digest, Action: r.Action, RulePriority: r.Priority,
			CountType: r.Selection.CountType, CountNumber: r.Selection.CountNumber}
		if r.Selection.CountType == ImageCountMoreThan {
			if rank <= r.Selection.CountNumber {
				continue
			}
			d.Rank = rank
		} else {
			d.Since, d.Basis = e.ageBasis(i, r.Selection.CountType)
			if !finite || d.Since.IsZero() || e.now.Sub(d.Since) <= limit {
				continue
			}
		}
		e.decide(i, d)
	}
}

// ageLimit converts countNumber days to a duration; finite is false when it
// exceeds what a Duration holds, and then no age can exceed it.
func ageLimit(days int) (limit time.Duration, finite bool) {
	if int64(days) > math.MaxInt64/int64(24*time.Hour) {
		return 0, false
	}
	return time.Duration(days) * 24 * time.Hour, true
}

// ageBasis picks the time a since* rule measures an image's age from.
func (e *evaluation) ageBasis(i int32, ct CountType) (time.Time, Basis) {
	img := &e.images[i]
	switch ct {
	case SinceImageTransitioned:
		return img.LastArchivedAt, BasisArchived // zero if unknown: never old enough
	case SinceImagePulled:
		if img.LastRecordedPullTime.After(e.state[i].pushed) {
			return img.LastRecordedPullTime, BasisPulled
		}
	}
	if img.LastActivatedAt.After(img.PushedAt) {
		return img.LastActivatedAt, BasisRestored
	}
	return img.PushedAt, BasisPushed
}

func (e *evaluation) decide(i int32, d Decision) {
	if e.protected(i, d.Action.Type) {
		e.state[i].outcome = outcomeHeld
		e.held = append(e.held, d)
		return
	}
	e.state[i].outcome = outcomeDecided
	e.decisions = append(e.decisions, d)
}

// protected reports whether an image index in the repository still needs
// the image: no index may lose a child, and no pullable (Standard) index
// may have a child archived. Parents missing from the images count as Standard.
func (e *evaluation) protected(i int32, a ActionType) bool {
	parents := e.images[i].ReferencedBy
	if len(parents) == 0 {
		return false
	}
	if a == Expire {
		return true
	}
	for _, p := range parents {
		j, ok := e.byDigest[p]
		if !ok || e.state[j].class != classArchive {
			return true
		}
	}
	return false
}

// followSubjects gives each referrer of an image acted on the same action
// and rule, transitively (a signature of an SBOM of an image follows too).
// Each referrer has one subject, so the outcome does not depend on order.
func (e *evaluation) followSubjects() {
	if e.byDigest == nil || len(e.decisions) == 0 {
		return
	}
	head := make([]int32, len(e.images)) // first referrer of each image, -1 if none
	next := make([]int32, len(e.images)) // next referrer of the same subject
	for i := range head {
		head[i] = -1
	}
	for i := range e.images {
		if e.state[i].follower {
			s := e.byDigest[e.images[i].Subject]
			next[i], head[s] = head[s], int32(i)
		}
	}
	type carrier struct{ img, dec int32 } // an image whose referrers take decision dec's action
	queue := make([]carrier, 0, len(e.decisions))
	for k, d := range e.decisions {
		queue = append(queue, carrier{int32(d.Index), int32(k)})
	}
	for q := 0; q < len(queue); q++ {
		c := queue[q]
		src := e.decisions[c.dec]
		for r := head[c.img]; r >= 0; r = next[r] {
			s := &e.state[r]
			if s.outcome != outcomeNone {
				continue
			}
			d := Decision{Index: int(r), Digest: e.images[r].Digest, Action: src.Action, RulePriority: src.RulePriority,
				CountType: src.CountType, CountNumber: src.CountNumber, Subject: e.images[c.img].Digest}
			switch {
			case d.Action.Type == Transition && s.class != classStandard:
				s.outcome = outcomePassed
				queue = append(queue, carrier{r, c.dec})
			case e.protected(r, d.Action.Type):
				s.outcome = outcomeHeld
				e.held = append(e.held, d)
			default:
				s.outcome = outcomeDecided
				e.decisions = append(e.decisions, d)
				queue = append(queue, carrier{r, int32(len(e.decisions) - 1)})
			}
		}
	}
}

func (e *evaluation) result() Result {
	order := func(a, b Decision) int {
		if c := cmp.Compare(a.RulePriority, b.RulePriority); c != 0 {
			return c
		}
		if af, bf := a.Subject != "", b.Subject != ""; af != bf {
			if af {
				return 1
			}
			return -1
		}
		return cmp.Compare(e.state[a.Index].order, e.state[b.Index].order)
	}
	slices.SortFunc(e.decisions, order)
	slices.SortFunc(e.held, order)
	res := Result{Decisions: e.decisions, Held: e.held}
	archived := 0
	for _, d := range e.decisions {
		if d.Action.Type == Expire {
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
