package lifecycle

import "testing"

// evalCase is one evaluation table test: the images, the policy's rules and
// the expected outcome per image name (see outcomes; absent = kept).
type evalCase struct {
	name   string
	images []Image
	rules  []string
	want   map[string]string
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, policyText(c.rules...))
			res := Evaluate(p, c.images, now)
			diffOutcomes(t, outcomes(c.images, res), c.want)
			checkSummary(t, res)
		})
	}
}

// checkSummary checks the summary against the decisions it counts.
func checkSummary(t *testing.T, res Result) {
	t.Helper()
	expiring, transitioning := 0, 0
	for _, d := range res.Decisions {
		if d.Action.Type == Expire {
			expiring++
		} else {
			transitioning++
		}
	}
	s := res.Summary
	if s.ExpiringImageTotalCount != expiring {
		t.Errorf("summary expiring = %d, want %d", s.ExpiringImageTotalCount, expiring)
	}
	switch {
	case transitioning == 0 && len(s.TransitioningImageTotalCounts) != 0:
		t.Errorf("summary transitioning = %+v, want none", s.TransitioningImageTotalCounts)
	case transitioning > 0 && (len(s.TransitioningImageTotalCounts) != 1 ||
		s.TransitioningImageTotalCounts[0] != TransitionCount{TargetStorageClass: Archive, ImageTotalCount: transitioning}):
		t.Errorf("summary transitioning = %+v, want %d to ARCHIVE", s.TransitioningImageTotalCounts, transitioning)
	}
}

// TestSpecExamples are the worked examples 1–7 of spec §5.4, verbatim
// (example 8, the invalid policies, is TestSpecExample8).
func TestSpecExamples(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{
			name: "1 keep only the newest untagged image",
			images: []Image{
				img("U1", nil, 5), img("U2", nil, 3), img("U3", nil, 1), img("T1", []string{"v1"}, 10),
			},
			rules: []string{rule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`, expire)},
			want:  map[string]string{"U1": "expire 1", "U2": "expire 1"},
		},
		{
			name: "2 age with a pattern",
			images: []Image{
				img("A", []string{"release-1.0"}, 40), img("B", []string{"release-1.1", "latest"}, 20), img("C", []string{"dev-7"}, 40),
			},
			rules: []string{rule(1, `"tagStatus":"tagged","tagPatternList":["release-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30`, expire)},
			want:  map[string]string{"A": "expire 1"},
		},
		{
			name: "3 higher rule owns an image even when it keeps it",
			images: []Image{
				img("A", []string{"prod-1", "beta-1"}, 12), img("B", []string{"beta-2"}, 11), img("C", []string{"beta-3"}, 2),
			},
			rules: []string{
				rule(1, `"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":5`, expire),
				rule(2, `"tagStatus":"tagged","tagPatternList":["beta*"],"countType":"imageCountMoreThan","countNumber":1`, expire),
			},
			want: map[string]string{"B": "expire 2"},
		},
		{
			name: "4 lower rule counts images claimed by a higher rule",
			images: []Image{
				img("X", nil, 6), img("Y", []string{"v2"}, 5), img("Z", []string{"v3"}, 4), img("W", nil, 1),
			},
			rules: []string{
				rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3`, expire),
				rule(2, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2`, expire),
			},
			want: map[string]string{"X": "expire 1", "Y": "expire 2"},
		},
		{
			name: "5 multiple patterns are ANDed",
			images: []Image{
				img("P", []string{"api", "prod"}, 30), img("Q", []string{"api"}, 30), img("R", []string{"prod"}, 30),
			},
			rules: []string{rule(1, `"tagStatus":"tagged","tagPatternList":["api*","prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":7`, expire)},
			want:  map[string]string{"P": "expire 1"},
		},
		{
			name: "6 archive then delete",
			images: []Image{
				img("M", []string{"v1"}, 200), img("N", []string{"v2"}, 200, pulled(10)), img("O", []string{"v0"}, 300, archived(120)),
			},
			rules: []string{
				rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90`, archive),
				rule(2, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`, expire),
			},
			want: map[string]string{"M": "transition 1", "O": "expire 2"},
		},
		{
			name: "7 prefix list",
			images: []Image{
				img("D", []string{"prod", "x"}, 9), img("E", []string{"production"}, 8), img("F", []string{"pre"}, 7),
			},
			rules: []string{rule(1, `"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1`, expire)},
			want:  map[string]string{"D": "expire 1"},
		},
	})
}

// TestSpecExampleDetails checks the why of a few spec examples: ranks,
// age bases and the preview fields.
func TestSpecExampleDetails(t *testing.T) {
	t.Parallel()
	images := []Image{img("X", nil, 6), img("Y", []string{"v2"}, 5), img("Z", []string{"v3"}, 4), img("W", nil, 1)}
	p := mustParse(t, policyText(
		rule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3`, expire),
		rule(2, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2`, expire)))
	res := Evaluate(p, images, now)
	want := []Decision{
		{Index: 0, Digest: dg("X"), Action: Action{Type: Expire}, RulePriority: 1, CountType: SinceImagePushed, CountNumber: 3,
			Since: daysAgo(6), Basis: BasisPushed},
		{Index: 1, Digest: dg("Y"), Action: Action{Type: Expire}, RulePriority: 2, CountType: ImageCountMoreThan, CountNumber: 2, Rank: 3},
	}
	if len(res.Decisions) != len(want) {
		t.Fatalf("decisions = %+v", res.Decisions)
	}
	for i := range want {
		if res.Decisions[i] != want[i] {
			t.Errorf("decision %d = %+v\nwant %+v", i, res.Decisions[i], want[i])
		}
	}
	if got := res.Decisions[1].Reason(); got != "rule 2 (imageCountMoreThan 2): number 3 of the images it selects, newest first" {
		t.Errorf("Reason = %q", got)
	}
	if got := res.Decisions[0].Reason(); got != "rule 1 (sinceImagePushed 3 days): pushed 2025-05-26T12:00:00Z, more than 3 days before the evaluation" {
		t.Errorf("Reason = %q", got)
	}
	if res.Summary.ExpiringImageTotalCount != 2 || res.Summary.TransitioningImageTotalCounts != nil {
		t.Errorf("summary = %+v", res.Summary)
	}

	m := img("M", []string{"v1"}, 200)
	p6 := mustParse(t, policyText(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90`, archive)))
	res = Evaluate(p6, []Image{m}, now)
	if len(res.Decisions) != 1 || res.Decisions[0].Action != (Action{Type: Transition, TargetStorageClass: Archive}) ||
		res.Decisions[0].Basis != BasisPushed || !res.Decisions[0].Since.Equal(m.PushedAt) {
		t.Errorf("example 6 M: %+v", res.Decisions)
	}
	if got := res.Summary.TransitioningImageTotalCounts; len(got) != 1 || got[0] != (TransitionCount{Archive, 1}) {
		t.Errorf("summary = %+v", res.Summary)
	}
}
