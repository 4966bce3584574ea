package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// referenceEvaluate is the spec §5.3 reference algorithm written as plainly
// as possible (quadratic scans, regular expressions), with the package's
// documented decisions: ties by digest, referrers follow their subject,
// index children are held. TestEvaluateMatchesReference compares Evaluate
// with it on random repositories and policies. It returns outcome strings
// keyed by digest, as outcomes does by name.
func referenceEvaluate(p *Policy, images []Image, now time.Time) map[digest.Digest]string {
	present := func(d digest.Digest) int {
		for i, im := range images {
			if im.Digest == d {
				return i
			}
		}
		return -1
	}
	follower := func(im Image) bool { return im.Subject != "" && im.Subject != im.Digest && present(im.Subject) >= 0 }
	class := func(im Image) StorageClass {
		if im.StorageClass == "" {
			return Standard
		}
		return im.StorageClass
	}
	pushed := func(im Image) time.Time {
		if im.LastActivatedAt.After(im.PushedAt) {
			return im.LastActivatedAt
		}
		return im.PushedAt
	}
	held := func(im Image, a ActionType) bool {
		for _, parent := range im.ReferencedBy {
			if a == Expire {
				return true
			}
			if j := present(parent); j < 0 || class(images[j]) != Archive {
				return true
			}
		}
		return false
	}
	out := map[digest.Digest]string{}
	action := map[digest.Digest]Action{} // decided or passed through, for followers
	claimed := map[digest.Digest]bool{}
	for _, r := range p.Rules() {
		var cand []Image
		selects := referenceFilter(r.Selection)
		for _, im := range images {
			if !follower(im) && class(im) == r.Selection.StorageClass && selects(im.Tags) {
				cand = append(cand, im)
			}
		}
		slices.SortStableFunc(cand, func(a, b Image) int {
			if c := pushed(b).Compare(pushed(a)); c != 0 {
				return c
			}
			return strings.Compare(string(a.Digest), string(b.Digest))
		})
		for k, im := range cand {
			var act bool
			days := time.Duration(r.Selection.CountNumber) * 24 * time.Hour
			switch r.Selection.CountType {
			case ImageCountMoreThan:
				act = k >= r.Selection.CountNumber
			case SinceImagePushed:
				act = !pushed(im).IsZero() && now.Sub(pushed(im)) > days
			case SinceImagePulled:
				t := pushed(im)
				if im.LastRecordedPullTime.After(t) {
					t = im.LastRecordedPullTime
				}
				act = !t.IsZero() && now.Sub(t) > days
			case SinceImageTransitioned:
				act = !im.LastArchivedAt.IsZero() && now.Sub(im.LastArchivedAt) > days
			}
			if act && !claimed[im.Digest] {
				verb := strings.ToLower(string(r.Action.Type))
				if held(im, r.Action.Type) {
					out[im.Digest] = fmt.Sprintf("held %s %d", verb, r.Priority)
				} else {
					out[im.Digest] = fmt.Sprintf("%s %d", verb, r.Priority)
					action[im.Digest] = r.Action
				}
			}
		}
		for _, im := range cand {
			claimed[im.Digest] = true
		}
	}
	priority := func(s string) string { return s[strings.LastIndex(s, " ")+1:] }
	for changed := true; changed; {
		changed = false
		for _, im := range images {
			a, ok := action[im.Subject]
			if !follower(im) || !ok {
				continue
			}
			if _, done := out[im.Digest]; done {
				continue
			}
			if _, done := action[im.Digest]; done {
				continue
			}
			verb := strings.ToLower(string(a.Type))
			rootPriority := referencePriority(out, action, images, im.Subject, priority)
			changed = true
			switch {
			case a.Type == Transition && class(im) != Standard:
				action[im.Digest] = a
			case held(im, a.Type):
				out[im.Digest] = fmt.Sprintf("held %s %s <- %s", verb, rootPriority, im.Subject)
			default:
				out[im.Digest] = fmt.Sprintf("%s %s <- %s", verb, rootPriority, im.Subject)
				action[im.Digest] = a
			}
		}
	}
	return out
}

// referencePriority walks up the subjects of d to the image a rule acted on.
func referencePriority(out map[digest.Digest]string, action map[digest.Digest]Action, images []Image, d digest.Digest, priority func(string) string) string {
	for {
		s := out[d]
		if s != "" {
			s, _, _ = strings.Cut(s, " <- ")
			return priority(s)
		}
		for _, im := range images {
			if im.Digest == d {
				d = im.Subject
				break
			}
		}
	}
}

// referenceFilter compiles a selection's tag filter to regular expressions.
func referenceFilter(s Selection) func(tags []string) bool {
	var res []*regexp.Regexp
	for _, p := range s.TagPrefixList {
		res = append(res, regexp.MustCompile(`^`+regexp.QuoteMeta(p)))
	}
	for _, p := range s.TagPatternList {
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		res = append(res, regexp.MustCompile(`^`+strings.Join(parts, `.*`)+`$`))
	}
	return func(tags []string) bool {
		switch s.TagStatus {
		case TagStatusAny:
			return true
		case TagStatusUntagged:
			return len(tags) == 0
		}
		if len(tags) == 0 {
			return false
		}
		for _, re := range res {
			if !slices.ContainsFunc(tags, re.MatchString) {
				return false
			}
		}
		return true
	}
}

// digestOutcomes is outcomes keyed by digest, with subjects as digests.
func digestOutcomes(res Result) map[digest.Digest]string {
	out := map[digest.Digest]string{}
	put := func(prefix string, d Decision) {
		s := fmt.Sprintf("%s%s %d", prefix, strings.ToLower(string(d.Action.Type)), d.RulePriority)
		if d.Subject != "" {
			s += " <- " + string(d.Subject)
		}
		if _, dup := out[d.Digest]; dup {
			s = out[d.Digest] + " AND " + s
		}
		out[d.Digest] = s
	}
	for _, d := range res.Decisions {
		put("", d)
	}
	for _, d := range res.Held {
		put("held ", d)
	}
	return out
}

var (
	randomTags     = []string{"v1", "v2", "v10", "prod-1", "prod-2", "dev", "latest", "release-1.0", "release-2.0", "x", "api-prod"}
	randomPatterns = []string{"v*", "prod-*", "*-1*", "*", "release-*", "*prod*", "v1", "d*v", "*.*", "api*", "*-2"}
	randomPrefixes = []string{"v", "prod", "re", "l", "v1", "api", "d"}
	randomCounts   = []int{1, 2, 3, 5, 10, 30, 90, 100, 200}
)

// randomRepository makes n images with ties, tags, pulls, archives,
// restores, index children and referrers.
func randomRepository(rng *rand.Rand, n int) []Image {
	images := make([]Image, n)
	for i := range images {
		im := Image{Digest: digest.FromString(fmt.Sprintf("img-%d-%d", i, rng.IntN(1000))), PushedAt: daysAgo(float64(rng.IntN(400)))}
		for range rng.IntN(3) {
			im.Tags = append(im.Tags, randomTags[rng.IntN(len(randomTags))])
		}
		if rng.IntN(3) == 0 {
			im.LastRecordedPullTime = daysAgo(float64(rng.IntN(400)))
		}
		if rng.IntN(4) == 0 {
			im.StorageClass, im.LastArchivedAt = Archive, daysAgo(float64(rng.IntN(300)))
		} else if rng.IntN(6) == 0 {
			im.LastArchivedAt, im.LastActivatedAt = daysAgo(float64(rng.IntN(300))), daysAgo(float64(rng.IntN(200)))
		}
		if i > 0 && rng.IntN(5) == 0 {
			im.ReferencedBy = append(im.ReferencedBy, images[rng.IntN(i)].Digest)
		}
		switch {
		case i > 0 && rng.IntN(4) == 0:
			im.Subject = images[rng.IntN(i)].Digest
		case rng.IntN(20) == 0:
			im.Subject = digest.FromString("absent")
		}
		images[i] = im
	}
	return images
}

// randomPolicy makes a valid policy of 1–6 random rules.
func randomPolicy(rng *rand.Rand) *Policy {
	for {
		var rules []string
		for i := range 1 + rng.IntN(6) {
			rules = append(rules, randomRule(rng, i+1))
		}
		if p, err := Parse(policyText(rules...)); err == nil {
			return p
		}
	}
}

func randomRule(rng *rand.Rand, priority int) string {
	var sel []string
	switch rng.IntN(4) {
	case 0:
		sel = append(sel, `"tagStatus":"untagged"`)
	case 1:
		sel = append(sel, `"tagStatus":"any"`)
	default:
		sel = append(sel, `"tagStatus":"tagged"`)
		list, from := "tagPatternList", randomPatterns
		if rng.IntN(2) == 0 {
			list, from = "tagPrefixList", randomPrefixes
		}
		var items []string
		for range 1 + rng.IntN(2) {
			items = append(items, `"`+from[rng.IntN(len(from))]+`"`)
		}
		sel = append(sel, `"`+list+`":[`+strings.Join(items, ",")+`]`)
	}
	n := randomCounts[rng.IntN(len(randomCounts))]
	action := expire
	switch rng.IntN(5) {
	case 0:
		sel = append(sel, `"countType":"imageCountMoreThan"`)
		if rng.IntN(3) == 0 {
			action = archive
		}
	case 1:
		sel = append(sel, `"countType":"sinceImagePushed","countUnit":"days"`)
		if rng.IntN(3) == 0 {
			action = archive
		}
	case 2:
		sel = append(sel, `"countType":"sinceImagePulled","countUnit":"days"`)
		action = archive
	default:
		sel = append(sel, `"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days"`)
		n = max(n, MinArchiveDays)
	}
	sel = append(sel, fmt.Sprintf(`"countNumber":%d`, n))
	return rule(priority, strings.Join(sel, ","), action)
}

func TestEvaluateMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 1000 {
		images := randomRepository(rng, rng.IntN(40))
		p := randomPolicy(rng)
		res := Evaluate(p, images, now)
		got, want := digestOutcomes(res), referenceEvaluate(p, images, now)
		if !mapsEqual(got, want) {
			t.Fatalf("iteration %d: Evaluate and the reference differ\npolicy %s\ngot  %v\nwant %v", iter, p.Text(), got, want)
		}
		checkInvariants(t, images, res)
		// The same images in another order give the same decisions.
		perm := rng.Perm(len(images))
		shuffled := make([]Image, len(images))
		for i, j := range perm {
			shuffled[j] = images[i]
		}
		res2 := Evaluate(p, shuffled, now)
		if !sameDecisions(res.Decisions, res2.Decisions) || !sameDecisions(res.Held, res2.Held) {
			t.Fatalf("iteration %d: the order of the images changed the result", iter)
		}
		checkInvariants(t, shuffled, res2)
	}
}

func mapsEqual(a, b map[digest.Digest]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sameDecisions compares decisions ignoring Index, which depends on the input order.
func sameDecisions(a, b []Decision) bool {
	return slices.EqualFunc(a, b, func(x, y Decision) bool {
		x.Index, y.Index = 0, 0
		return x == y
	})
}

// checkInvariants: Index points at the image; one decision per image; the
// summary counts the decisions; decisions come in the documented order.
func checkInvariants(t *testing.T, images []Image, res Result) {
	t.Helper()
	seen := map[digest.Digest]bool{}
	for _, list := range [][]Decision{res.Decisions, res.Held} {
		for k, d := range list {
			if images[d.Index].Digest != d.Digest {
				t.Fatalf("decision %+v: Index points at %s", d, images[d.Index].Digest)
			}
			if seen[d.Digest] {
				t.Fatalf("two decisions for %s", d.Digest)
			}
			seen[d.Digest] = true
			if d.Action.Type == Transition && (images[d.Index].StorageClass == Archive || d.Action.TargetStorageClass != Archive) {
				t.Fatalf("bad transition %+v", d)
			}
			if k > 0 {
				prev := list[k-1]
				if prev.RulePriority > d.RulePriority || prev.RulePriority == d.RulePriority && prev.Subject != "" && d.Subject == "" {
					t.Fatalf("decisions out of order: %+v before %+v", prev, d)
				}
			}
		}
	}
	checkSummary(t, res)
}
