package lifecycle

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// evaluation is the working state of one Evaluate call. Its cost is
// O(n log n) for the ordering plus O(rules × n × tag matching): every rule
// walks the images once, sequentially, in the shared newest-first order,
// and index and referrer links are resolved through one digest map.
type evaluation struct {
	images   []Image
	rules    []Rule
	now      time.Time
	items    []item  // one per image, newest first, ties by digest
	pos      []int32 // image index → position in items
	byDigest map[digest.Digest]int32

	marks, held            []mark // the rules' decisions and held decisions, in result order
	followed, followedHeld []mark // referrers following their subject, unordered
}

// item is an image's working state, laid out for the rules' sequential walks.
type item struct {
	sec      int64 // effective push time (a restore counts as a push), Unix seconds
	nsec     int32 // and nanoseconds
	img      int32 // index in images
	digest   digest.Digest
	tags     []string
	class    uint8
	follower bool // a referrer whose subject is in the repository: not for rules to select
	claimed  bool // selected by a rule already applied
	outcome  uint8
}

const (
	outcomeNone    uint8 = iota
	outcomeDecided       // in marks or followed
	outcomeHeld          // in held or followedHeld
	outcomePassed        // a referrer already in the target class; its own referrers still follow
)

// mark is a compact decision; Decisions are built from marks at the end.
type mark struct {
	img     int32 // the image
	rule    int32 // index in rules of the rule that acts
	rank    int32 // for ImageCountMoreThan
	subject int32 // the subject followed, or -1
}

func newEvaluation(images []Image, now time.Time) *evaluation {
	e := &evaluation{images: images, now: now, items: make([]item, len(images)), pos: make([]int32, len(images))}
	linked := false
	for i := range images {
		img := &images[i]
		t := img.effectivePush()
		e.items[i] = item{sec: t.Unix(), nsec: int32(t.Nanosecond()), img: int32(i), digest: img.Digest, tags: img.Tags,
			class: classCode(img.StorageClass)}
		linked = linked || img.Subject != "" || len(img.ReferencedBy) > 0
	}
	slices.SortFunc(e.items, func(a, b item) int {
		if c := cmp.Compare(b.sec, a.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(b.nsec, a.nsec); c != 0 {
			return c
		}
		return cmp.Compare(a.digest, b.digest)
	})
	for p := range e.items {
		e.pos[e.items[p].img] = int32(p)
	}
	if linked {
		e.byDigest = make(map[digest.Digest]int32, len(images))
		for i := range images {
			e.byDigest[images[i].Digest] = int32(i)
		}
		for i := range images {
			s := images[i].Subject
			if _, ok := e.byDigest[s]; ok && s != images[i].Digest {
				e.item(int32(i)).follower = true
			}
		}
	}
	return e
}

// item returns the working state of image i.
func (e *evaluation) item(i int32) *item { return &e.items[e.pos[i]] }

// apply runs one rule over the repository: it walks the images it selects
// newest first, acts on those its count designates unless a higher rule
// selected them, and claims every image it selects.
func (e *evaluation) apply(ri int32, f *tagFilter) {
	r := &e.rules[ri]
	want := classCode(r.Selection.StorageClass)
	limit, finite := ageLimit(r.Selection.CountNumber)
	rank := 0
	for k := range e.items {
		it := &e.items[k]
		if it.follower || it.class != want || !f.selects(it.tags) {
			continue
		}
		rank++
		if it.claimed {
			continue
		}
		it.claimed = true
		m := mark{img: it.img, rule: ri, subject: -1}
		if r.Selection.CountType == ImageCountMoreThan {
			if rank <= r.Selection.CountNumber {
				continue
			}
			m.rank = int32(rank)
		} else if since, _ := e.ageBasis(it.img, r.Selection.CountType); !finite || since.IsZero() || e.now.Sub(since) <= limit {
			continue
		}
		if e.protected(it.img, r.Action.Type) {
			it.outcome = outcomeHeld
			e.held = append(e.held, m)
		} else {
			it.outcome = outcomeDecided
			e.marks = append(e.marks, m)
		}
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

// ageBasis picks the time a since* rule measures an image's age from. A
// zero time means unknown, and an unknown age is never old enough.
func (e *evaluation) ageBasis(i int32, ct CountType) (time.Time, Basis) {
	img := &e.images[i]
	switch ct {
	case SinceImageTransitioned:
		return img.LastArchivedAt, BasisArchived
	case SinceImagePulled:
		if img.LastRecordedPullTime.After(img.effectivePush()) {
			return img.LastRecordedPullTime, BasisPulled
		}
	}
	if img.LastActivatedAt.After(img.PushedAt) {
		return img.LastActivatedAt, BasisRestored
	}
	return img.PushedAt, BasisPushed
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
		if !ok || e.item(j).class != classArchive {
			return true
		}
	}
	return false
}

// followSubjects gives each referrer of an image acted on the same action
// and rule, transitively (a signature of an SBOM of an image follows too).
// Each referrer has one subject, so the outcome does not depend on order.
func (e *evaluation) followSubjects() {
	if e.byDigest == nil || len(e.marks) == 0 {
		return
	}
	head := make([]int32, len(e.images)) // first referrer of each image, -1 if none
	next := make([]int32, len(e.images)) // next referrer of the same subject
	for i := range head {
		head[i] = -1
	}
	for i := range e.images {
		if e.item(int32(i)).follower {
			s := e.byDigest[e.images[i].Subject]
			next[i], head[s] = head[s], int32(i)
		}
	}
	type carrier struct{ img, rule int32 } // an image whose referrers take the rule's action
	queue := make([]carrier, 0, len(e.marks))
	for _, m := range e.marks {
		queue = append(queue, carrier{m.img, m.rule})
	}
	for q := 0; q < len(queue); q++ {
		c := queue[q]
		a := e.rules[c.rule].Action.Type
		for r := head[c.img]; r >= 0; r = next[r] {
			s := e.item(r)
			if s.outcome != outcomeNone {
				continue
			}
			m := mark{img: r, rule: c.rule, subject: c.img}
			switch {
			case a == Transition && s.class != classStandard:
				s.outcome = outcomePassed
				queue = append(queue, carrier{r, c.rule})
			case e.protected(r, a):
				s.outcome = outcomeHeld
				e.followedHeld = append(e.followedHeld, m)
			default:
				s.outcome = outcomeDecided
				e.followed = append(e.followed, m)
				queue = append(queue, carrier{r, c.rule})
			}
		}
	}
}
