package lifecycle

import (
	"testing"
	"time"
)

func tg(tags ...string) []string { return tags }

// Selections reused by the evaluation tests.
const (
	untaggedCount1  = `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`
	untaggedCount2  = `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2`
	untaggedPushed5 = `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":5`
	anyCount1       = `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1`
	anyCount2       = `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2`
	anyPulled90     = `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90`
	archiveAny90    = `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`
	archiveAny100   = `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`
)

func tagged(filter string, count string) string {
	return `"tagStatus":"tagged",` + filter + `,` + count
}

const (
	count1   = `"countType":"imageCountMoreThan","countNumber":1`
	count5   = `"countType":"imageCountMoreThan","countNumber":5`
	pushed5  = `"countType":"sinceImagePushed","countUnit":"days","countNumber":5`
	pushed30 = `"countType":"sinceImagePushed","countUnit":"days","countNumber":30`
)

// first returns the name whose digest sorts first: among images pushed at
// the same instant, it counts as the newer one.
func first(a, b string) (string, string) {
	if dg(b) < dg(a) {
		return b, a
	}
	return a, b
}

func TestEvaluateOrderingAndCounts(t *testing.T) {
	t.Parallel()
	_, older := first("A", "B")
	n1, rest := first("C", "D")
	n2, n3 := first(rest, "E")
	if dg(n2) < dg(n1) {
		n1, n2 = n2, n1
	}
	runEvalCases(t, []evalCase{
		{name: "tie on push time broken by digest", images: []Image{img("A", nil, 5), img("B", nil, 5)},
			rules: []string{rule(1, untaggedCount1, expire)}, want: map[string]string{older: "expire 1"}},
		{name: "three-way tie keeps the two smallest digests", images: []Image{img("C", nil, 3), img("D", nil, 3), img("E", nil, 3)},
			rules: []string{rule(1, untaggedCount2, expire)}, want: map[string]string{n3: "expire 1"}},
		{name: "tie behind a newer image", images: []Image{img("A", nil, 5), img("B", nil, 5), img("F", nil, 1)},
			rules: []string{rule(1, untaggedCount2, expire)}, want: map[string]string{older: "expire 1"}},
		{name: "fewer images than the count", images: []Image{img("A", nil, 5)},
			rules: []string{rule(1, untaggedCount2, expire)}, want: map[string]string{}},
		{name: "exactly the count", images: []Image{img("A", nil, 5), img("B", nil, 4)},
			rules: []string{rule(1, untaggedCount2, expire)}, want: map[string]string{}},
		{name: "one more than the count expires the oldest", images: []Image{img("A", nil, 5), img("B", nil, 4), img("C", nil, 30)},
			rules: []string{rule(1, untaggedCount2, expire)}, want: map[string]string{"C": "expire 1"}},
		{name: "count by transition", images: []Image{img("A", tg("v1"), 5), img("B", tg("v2"), 4), img("C", tg("v3"), 3)},
			rules: []string{rule(1, tagged(`"tagPrefixList":["v"]`, count1), archive)},
			want:  map[string]string{"A": "transition 1", "B": "transition 1"}},
		{name: "tagged rule ignores untagged images, any counts both", images: []Image{img("A", tg("x"), 5), img("B", nil, 4), img("C", tg("y"), 3)},
			rules: []string{rule(1, tagged(`"tagPatternList":["*"]`, count1), expire), rule(2, anyCount1, expire)},
			want:  map[string]string{"A": "expire 1", "B": "expire 2"}},
		{name: "push time in the future is young", images: []Image{img("A", nil, -2)},
			rules: []string{rule(1, untaggedPushed5, expire)}, want: map[string]string{}},
		{name: "an unknown push time is never old", images: []Image{{Digest: dg("A")}},
			rules: []string{rule(1, untaggedPushed5, expire)}, want: map[string]string{}},
		{name: "an unknown storage class is never selected", images: []Image{img("A", nil, 50, func(im *Image) { im.StorageClass = "GLACIER" }), img("B", nil, 60)},
			rules: []string{rule(1, anyCount1, expire)}, want: map[string]string{}},
	})
}

func TestEvaluateStorageClasses(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "standard count ignores archived images",
			images: []Image{img("A", nil, 10), img("B", nil, 9), img("C", nil, 8), img("D", nil, 1, archived(0.5)), img("E", nil, 2, archived(1))},
			rules:  []string{rule(1, anyCount2, expire)}, want: map[string]string{"A": "expire 1"}},
		{name: "archive rule leaves standard images alone",
			images: []Image{img("A", nil, 500), img("B", nil, 400, archived(95))},
			rules:  []string{rule(1, archiveAny90, expire)}, want: map[string]string{"B": "expire 1"}},
		{name: "archive rule with a prefix",
			images: []Image{img("A", tg("prod-1"), 500, archived(200)), img("B", tg("dev-1"), 500, archived(200))},
			rules:  []string{rule(1, `"tagStatus":"tagged","tagPrefixList":["dev"],"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)},
			want:   map[string]string{"B": "expire 1"}},
		{name: "archive untagged rule skips tagged archived images",
			images: []Image{img("A", tg("v1"), 500, archived(200)), img("B", nil, 500, archived(200))},
			rules:  []string{rule(1, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)},
			want:   map[string]string{"B": "expire 1"}},
		{name: "archived without an archive time is never old enough",
			images: []Image{img("A", nil, 500, func(im *Image) { im.StorageClass = Archive })},
			rules:  []string{rule(1, archiveAny90, expire)}, want: map[string]string{}},
		{name: "archive age is from lastArchivedAt, not push",
			images: []Image{img("A", nil, 1000, archived(89)), img("B", nil, 10, archived(91))},
			rules:  []string{rule(1, archiveAny90, expire)}, want: map[string]string{"B": "expire 1"}},
		{name: "a restored image is not in the archive class",
			images: []Image{img("A", nil, 1000, archived(400), restored(200))},
			rules:  []string{rule(1, archiveAny90, expire)}, want: map[string]string{}},
		{name: "archive and expire in one run, each class its own any rule",
			images: []Image{img("A", tg("v1"), 200), img("B", tg("v2"), 300, archived(150)), img("C", nil, 100, pulled(1))},
			rules:  []string{rule(1, anyPulled90, archive), rule(2, archiveAny100, expire)},
			want:   map[string]string{"A": "transition 1", "B": "expire 2"}},
		{name: "an image archived this run is not expired from archive this run",
			images: []Image{img("A", nil, 400)},
			rules:  []string{rule(1, anyPulled90, archive), rule(2, archiveAny90, expire)},
			want:   map[string]string{"A": "transition 1"}},
	})
}

func TestEvaluatePullAndRestore(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "never pulled falls back to push time", images: []Image{img("A", nil, 91), img("B", nil, 89)},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{"A": "transition 1"}},
		{name: "recent pull keeps an old image", images: []Image{img("A", nil, 400, pulled(3))},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{}},
		{name: "old pull", images: []Image{img("A", nil, 400, pulled(100))},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{"A": "transition 1"}},
		{name: "restored recently, last pulled before the archive", images: []Image{img("A", nil, 600, pulled(500), restored(10))},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{}},
		{name: "restored long ago and not pulled since", images: []Image{img("A", nil, 600, pulled(500), restored(95))},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{"A": "transition 1"}},
		{name: "pulled after the restore", images: []Image{img("A", nil, 600, restored(300), pulled(5)), img("B", nil, 600, restored(300), pulled(100))},
			rules: []string{rule(1, anyPulled90, archive)}, want: map[string]string{"B": "transition 1"}},
		{name: "restore counts as the newest push for counting",
			images: []Image{img("A", tg("v1"), 300, restored(1)), img("B", tg("v2"), 10), img("C", tg("v3"), 20)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["v"]`, count1), expire)},
			want:   map[string]string{"B": "expire 1", "C": "expire 1"}},
		{name: "restore resets push age", images: []Image{img("A", nil, 100, restored(5)), img("B", nil, 100)},
			rules: []string{rule(1, `"tagStatus":"untagged",`+pushed30, expire)}, want: map[string]string{"B": "expire 1"}},
	})
}

func TestEvaluateIndexChildren(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "children of a kept index are held",
			images: []Image{img("index", tg("v1"), 2), img("child1", nil, 2, childOf("index")), img("child2", nil, 2, childOf("index"))},
			rules:  []string{rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1`, expire)},
			want:   map[string]string{"child1": "held expire 1", "child2": "held expire 1"}},
		{name: "children stay held in the run that expires their index",
			images: []Image{img("index", tg("old"), 10), img("child1", nil, 10, childOf("index")), img("child2", nil, 10, childOf("index"))},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["old"]`, pushed5), expire), rule(2, untaggedPushed5, expire)},
			want:   map[string]string{"index": "expire 1", "child1": "held expire 2", "child2": "held expire 2"}},
		{name: "next run, the index gone, the children expire",
			images: []Image{img("child1", nil, 10), img("child2", nil, 10)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["old"]`, pushed5), expire), rule(2, untaggedPushed5, expire)},
			want:   map[string]string{"child1": "expire 2", "child2": "expire 2"}},
		{name: "a child of an archived index may be archived",
			images: []Image{img("index", tg("v1"), 300, archived(10)), img("child1", nil, 300, pulled(100), childOf("index"))},
			rules:  []string{rule(1, anyPulled90, archive), rule(2, archiveAny90, expire)},
			want:   map[string]string{"child1": "transition 1"}},
		{name: "a child of a standard index is not archived",
			images: []Image{img("index", tg("v1"), 200), img("child1", nil, 200, childOf("index"))},
			rules:  []string{rule(1, anyPulled90, archive)},
			want:   map[string]string{"index": "transition 1", "child1": "held transition 1"}},
		{name: "a child of an archived index is not expired while the index is kept",
			images: []Image{img("index", tg("v1"), 300, archived(100)), img("child1", nil, 300, archived(100), childOf("index"))},
			rules:  []string{rule(1, archiveAny90, expire)},
			want:   map[string]string{"index": "expire 1", "child1": "held expire 1"}},
		{name: "a parent missing from the images still protects",
			images: []Image{img("child1", nil, 300, childOf("index"))},
			rules:  []string{rule(1, anyPulled90, archive)},
			want:   map[string]string{"child1": "held transition 1"}},
		{name: "two parents, one still standard",
			images: []Image{img("index", tg("a"), 300, archived(100)), img("index2", tg("b"), 300, pulled(1)),
				img("child1", nil, 300, childOf("index", "index2"))},
			rules: []string{rule(1, anyPulled90, archive)},
			want:  map[string]string{"child1": "held transition 1"}},
		{name: "held children still take count slots",
			images: []Image{img("index", tg("v"), 1), img("child1", nil, 2.5, childOf("index")), img("U1", nil, 2), img("U2", nil, 3)},
			rules:  []string{rule(1, untaggedCount1, expire)},
			want:   map[string]string{"child1": "held expire 1", "U2": "expire 1"}},
		{name: "a held child stays owned by its rule",
			images: []Image{img("index", tg("v"), 1), img("child1", nil, 5, childOf("index"))},
			rules:  []string{rule(1, untaggedPushed5[:len(untaggedPushed5)-1]+"4", expire), rule(2, anyCount1, expire)},
			want:   map[string]string{"child1": "held expire 1"}},
	})
}

func TestEvaluateReferrers(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "a signature goes with its subject",
			images: []Image{img("T", tg("v1"), 40), img("sig", nil, 39, refers("T"))},
			rules:  []string{rule(1, tagged(`"tagPatternList":["v*"]`, pushed30), expire)},
			want:   map[string]string{"T": "expire 1", "sig": "expire 1 <- T"}},
		{name: "referrers of referrers follow too",
			images: []Image{img("T", nil, 10), img("U", nil, 1), img("sbom", nil, 10, refers("T")), img("sigsig", nil, 10, refers("sbom"))},
			rules:  []string{rule(1, untaggedCount1, expire)},
			want:   map[string]string{"T": "expire 1", "sbom": "expire 1 <- T", "sigsig": "expire 1 <- sbom"}},
		{name: "referrers are neither selected nor counted by rules",
			images: []Image{img("T", tg("v1"), 5), img("U1", nil, 2), img("U2", nil, 3), img("sig", nil, 1, refers("T"))},
			rules:  []string{rule(1, untaggedCount1, expire)},
			want:   map[string]string{"U2": "expire 1"}},
		{name: "an orphan referrer is an ordinary image",
			images: []Image{img("orphan", nil, 10, refers("gone"))},
			rules:  []string{rule(1, untaggedPushed5, expire)},
			want:   map[string]string{"orphan": "expire 1"}},
		{name: "a signature is archived with its subject",
			images: []Image{img("T", tg("v1"), 200), img("sig", nil, 200, refers("T"), pulled(1))},
			rules:  []string{rule(1, anyPulled90, archive)},
			want:   map[string]string{"T": "transition 1", "sig": "transition 1 <- T"}},
		{name: "an archived referrer passes the transition on",
			images: []Image{img("T", tg("v1"), 200), img("sbom", nil, 200, refers("T"), archived(30)), img("sigsig", nil, 200, refers("sbom"))},
			rules:  []string{rule(1, anyPulled90, archive)},
			want:   map[string]string{"T": "transition 1", "sigsig": "transition 1 <- sbom"}},
		{name: "referrers are deleted from archive with their subject",
			images: []Image{img("T", tg("v1"), 300, archived(120)), img("sig", nil, 300, refers("T"), archived(10)), img("sbom", nil, 300, refers("T"))},
			rules:  []string{rule(1, archiveAny100, expire)},
			want:   map[string]string{"T": "expire 1", "sig": "expire 1 <- T", "sbom": "expire 1 <- T"}},
		{name: "a referrer of a held subject stays",
			images: []Image{img("index", tg("v"), 1), img("child1", nil, 10, childOf("index")), img("sig", nil, 10, refers("child1"))},
			rules:  []string{rule(1, untaggedPushed5, expire)},
			want:   map[string]string{"child1": "held expire 1"}},
		{name: "a referrer listed by an index is held",
			images: []Image{img("T", tg("dev"), 40), img("index2", tg("keep"), 1), img("sig", nil, 40, refers("T"), childOf("index2"))},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["dev"]`, pushed30), expire)},
			want:   map[string]string{"T": "expire 1", "sig": "held expire 1 <- T"}},
		{name: "a tagged referrer is still its subject's",
			images: []Image{img("T", nil, 1), img("sig", tg("sha256-abc.sig"), 10, refers("T"))},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["sha256-"]`, pushed5), expire)},
			want:   map[string]string{}},
		{name: "referrers take the rule of their subject",
			images: []Image{img("P", tg("prod-1"), 50), img("T", tg("dev-1"), 40), img("sig", nil, 40, refers("T")), img("sbom", nil, 50, refers("P"))},
			rules:  []string{rule(1, tagged(`"tagPatternList":["prod*"]`, count5), expire), rule(2, tagged(`"tagPatternList":["dev*"]`, pushed30), expire)},
			want:   map[string]string{"T": "expire 2", "sig": "expire 2 <- T"}},
		{name: "a subject listing itself is not a referrer",
			images: []Image{img("A", nil, 10, refers("A"))},
			rules:  []string{rule(1, untaggedPushed5, expire)},
			want:   map[string]string{"A": "expire 1"}},
	})
}

func TestEvaluateTagFilters(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "overlapping patterns: the higher rule owns the overlap",
			images: []Image{img("A", tg("prod-1-amd64"), 3), img("B", tg("prod-2-amd64"), 2), img("C", tg("dev-3-amd64"), 5), img("D", tg("dev-4-amd64"), 4)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["prod-*"]`, count5), expire), rule(2, tagged(`"tagPatternList":["*-amd64"]`, count1), expire)},
			want:   map[string]string{"C": "expire 2", "D": "expire 2"}},
		{name: "a prefix matches longer tags",
			images: []Image{img("A", tg("v1"), 10), img("B", tg("v10"), 10), img("C", tg("w1"), 10)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["v1"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1", "B": "expire 1"}},
		{name: "a pattern without wildcard matches exactly",
			images: []Image{img("A", tg("v1"), 10), img("B", tg("v10"), 10)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["v1"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1"}},
		{name: "*prod* matches anywhere",
			images: []Image{img("A", tg("repo-production"), 10), img("B", tg("prod"), 10), img("C", tg("pro-d"), 10)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["*prod*"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1", "B": "expire 1"}},
		{name: "wildcards in the middle",
			images: []Image{img("A", tg("v1.2-rc3"), 10), img("B", tg("v1.2"), 10), img("C", tg("v-rc"), 10), img("D", tg("xv1-rc"), 10)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["v*-rc*"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1", "C": "expire 1"}},
		{name: "matching is case-sensitive",
			images: []Image{img("A", tg("prod-1"), 10), img("B", tg("Prod-1"), 10)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["Prod*"]`, pushed5), expire)},
			want:   map[string]string{"B": "expire 1"}},
		{name: "prefixes are ANDed",
			images: []Image{img("A", tg("alpha", "beta"), 10), img("B", tg("alpha"), 10), img("C", tg("ab"), 10)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["a","b"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1"}},
		{name: "one tag may satisfy several patterns",
			images: []Image{img("A", tg("api-prod"), 10), img("B", tg("api-dev"), 10)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["api*","*prod"]`, pushed5), expire)},
			want:   map[string]string{"A": "expire 1"}},
		{name: "patterns and prefixes in different rules",
			images: []Image{img("A", tg("release-1"), 10), img("B", tg("release-2"), 9), img("C", tg("rel"), 8)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["release-"]`, count1), expire), rule(2, tagged(`"tagPatternList":["rel*"]`, count1), expire)},
			want:   map[string]string{"A": "expire 1"}},
	})
}

func TestEvaluateManyRules(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "rules apply by priority, not document order",
			images: []Image{
				img("A", tg("release-1.0"), 30), img("B", tg("release-1.1"), 25), img("C", tg("release-2.0"), 20),
				img("D", tg("release-2.1"), 15), img("E", tg("release-2.2"), 10), img("F", nil, 9), img("G", nil, 1),
				img("H", tg("dev"), 2), img("I", tg("feature-x"), 12),
			},
			rules: []string{
				rule(40, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3`, expire),
				rule(30, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7`, expire),
				rule(20, tagged(`"tagPatternList":["release-*"]`, `"countType":"imageCountMoreThan","countNumber":2`), archive),
				rule(10, tagged(`"tagPatternList":["release-1*"]`, count5), expire),
			},
			want: map[string]string{"C": "transition 20", "F": "expire 30", "I": "expire 40"}},
		{name: "a keep-everything rule shields its images from the catch-all",
			images: []Image{img("A", tg("prod-1"), 100), img("B", tg("prod-2"), 90), img("C", tg("tmp"), 80), img("D", nil, 70)},
			rules:  []string{rule(1, tagged(`"tagPatternList":["prod-*"]`, `"countType":"imageCountMoreThan","countNumber":1000`), expire), rule(2, anyCount1, expire)},
			want:   map[string]string{"C": "expire 2"}},
		{name: "six rules mixing counts, ages, pulls and archive",
			images: []Image{
				img("A", tg("v1.0"), 400, pulled(300)), img("B", tg("v1.1"), 300, pulled(1)), img("C", tg("pr-12"), 20),
				img("D", tg("pr-13"), 2), img("E", nil, 3), img("F", nil, 8), img("G", tg("nightly-1"), 100, archived(95)),
				img("H", tg("nightly-2"), 400, archived(200)), img("I", nil, 500, archived(99)),
			},
			rules: []string{
				rule(1, tagged(`"tagPrefixList":["v"]`, `"countType":"imageCountMoreThan","countNumber":1`), archive),
				rule(2, tagged(`"tagPatternList":["pr-*"]`, `"countType":"sinceImagePushed","countUnit":"days","countNumber":14`), expire),
				rule(3, untaggedPushed5, expire),
				rule(4, anyPulled90, archive),
				rule(5, `"tagStatus":"tagged","tagPrefixList":["nightly"],"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":180`, expire),
				rule(6, archiveAny90, expire),
			},
			want: map[string]string{"A": "transition 1", "C": "expire 2", "F": "expire 3", "H": "expire 5", "I": "expire 6"}},
		{name: "empty repository", images: nil, rules: []string{rule(1, anyCount1, expire)}, want: map[string]string{}},
		{name: "a policy that selects nothing",
			images: []Image{img("A", tg("v1"), 100), img("B", tg("v2"), 200)},
			rules:  []string{rule(1, tagged(`"tagPrefixList":["prod"]`, pushed5), expire), rule(2, untaggedCount1, expire)},
			want:   map[string]string{}},
	})
}

func TestEvaluateNilPolicy(t *testing.T) {
	t.Parallel()
	res := Evaluate(nil, []Image{img("A", nil, 100)}, now)
	if len(res.Decisions)+len(res.Held) != 0 || res.Summary.ExpiringImageTotalCount != 0 || res.Summary.TransitioningImageTotalCounts != nil {
		t.Errorf("Evaluate(nil) = %+v", res)
	}
}

// TestDays checks "more than N days" (age > N×24h) at the boundary for
// every since* count type.
func TestDays(t *testing.T) {
	t.Parallel()
	const n = 30
	limit := n * day
	cases := []struct {
		countType CountType
		selection string
		action    string
		image     func(at time.Time) Image
	}{
		{SinceImagePushed, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30`, expire,
			func(at time.Time) Image { return Image{Digest: dg("A"), PushedAt: at} }},
		{SinceImagePushed, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30`, expire,
			func(at time.Time) Image {
				return Image{Digest: dg("A"), PushedAt: at.Add(-1000 * day), LastActivatedAt: at}
			}},
		{SinceImagePulled, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, archive,
			func(at time.Time) Image { return Image{Digest: dg("A"), PushedAt: at} }},
		{SinceImagePulled, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, archive,
			func(at time.Time) Image {
				return Image{Digest: dg("A"), PushedAt: at.Add(-1000 * day), LastRecordedPullTime: at}
			}},
		{SinceImagePulled, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, archive,
			func(at time.Time) Image {
				return Image{Digest: dg("A"), PushedAt: at.Add(-1000 * day), LastRecordedPullTime: at.Add(-500 * day), LastActivatedAt: at}
			}},
	}
	for _, c := range cases {
		p := mustParse(t, policyText(rule(1, c.selection, c.action)))
		for _, off := range []struct {
			age  time.Duration
			acts bool
		}{{limit - time.Nanosecond, false}, {limit, false}, {limit + time.Nanosecond, true}, {limit + day, true}, {0, false}, {-day, false}} {
			res := Evaluate(p, []Image{c.image(now.Add(-off.age))}, now)
			if acts := len(res.Decisions) == 1; acts != off.acts {
				t.Errorf("%s, age %v: acted = %v, want %v", c.countType, off.age, acts, off.acts)
			}
		}
	}
	p := mustParse(t, policyText(rule(1, archiveAny90, expire)))
	for _, off := range []struct {
		age  time.Duration
		acts bool
	}{{90*day - time.Nanosecond, false}, {90 * day, false}, {90*day + time.Nanosecond, true}} {
		im := Image{Digest: dg("A"), PushedAt: now.Add(-1000 * day), StorageClass: Archive, LastArchivedAt: now.Add(-off.age)}
		if acts := len(Evaluate(p, []Image{im}, now).Decisions) == 1; acts != off.acts {
			t.Errorf("sinceImageTransitioned, age %v: acted = %v, want %v", off.age, acts, off.acts)
		}
	}
}

// TestDaysHuge: a countNumber beyond what a Duration holds acts on nothing,
// even on an image 2000 years old; the largest that fits still works.
func TestDaysHuge(t *testing.T) {
	t.Parallel()
	p := mustParse(t, policyText(rule(1, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":2147483647`, expire)))
	ancient := Image{Digest: dg("A"), PushedAt: time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC)}
	if res := Evaluate(p, []Image{ancient}, now); len(res.Decisions) != 0 {
		t.Errorf("decisions = %+v", res.Decisions)
	}
	p = mustParse(t, policyText(rule(1, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":106751`, expire)))
	if res := Evaluate(p, []Image{ancient}, now); len(res.Decisions) != 1 {
		t.Errorf("a 2000-year-old image is older than 106751 days: %+v", res.Decisions)
	}
}

// TestEvaluateDuplicateDigests: a repository lists each digest once, but a
// caller's mistake must not crash an evaluation or act twice per entry.
func TestEvaluateDuplicateDigests(t *testing.T) {
	t.Parallel()
	images := []Image{img("A", nil, 10), img("A", nil, 10), img("B", nil, 10, refers("A")), img("C", nil, 10, childOf("A"))}
	p := mustParse(t, policyText(rule(1, untaggedPushed5, expire)))
	res := Evaluate(p, images, now)
	if n := len(res.Decisions) + len(res.Held); n > len(images) {
		t.Errorf("%d decisions for %d entries: %+v", n, len(images), res)
	}
	for _, d := range res.Decisions {
		if images[d.Index].Digest != d.Digest {
			t.Errorf("decision %+v points at another image", d)
		}
	}
}
