package lifecycle_test

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/lifecycle"
)

func Example() {
	policy, err := lifecycle.Parse(`{"rules": [
	  {"rulePriority": 1, "description": "keep the two newest releases",
	   "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"],
	                 "countType": "imageCountMoreThan", "countNumber": 2},
	   "action": {"type": "expire"}},
	  {"rulePriority": 2, "description": "archive what nobody pulled for 90 days",
	   "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90},
	   "action": {"type": "transition", "targetStorageClass": "archive"}}
	]}`)
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	ago := func(days int) time.Time { return now.AddDate(0, 0, -days) }
	images := []lifecycle.Image{
		{Digest: digest.FromString("r1"), Tags: []string{"release-1"}, PushedAt: ago(300)},
		{Digest: digest.FromString("r2"), Tags: []string{"release-2"}, PushedAt: ago(200)},
		{Digest: digest.FromString("r3"), Tags: []string{"release-3"}, PushedAt: ago(100)},
		{Digest: digest.FromString("tool"), Tags: []string{"tools"}, PushedAt: ago(400), LastRecordedPullTime: ago(120)},
		{Digest: digest.FromString("sig"), PushedAt: ago(300), Subject: digest.FromString("r1")},
	}
	// release-2 is older than 90 days and never pulled, but rule 1 selected
	// it (and kept it), so rule 2 may not archive it. The signature goes
	// with the release it signs.
	res := lifecycle.Evaluate(policy, images, now)
	for _, d := range res.Decisions {
		fmt.Printf("%s %s: %s\n", d.Action.Type, images[d.Index].Tags, d.Reason())
	}
	fmt.Printf("expiring %d, transitioning %+v\n", res.Summary.ExpiringImageTotalCount, res.Summary.TransitioningImageTotalCounts)

	_, err = lifecycle.Parse(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
	fmt.Println(err)
	// Output:
	// EXPIRE [release-1]: rule 1 (imageCountMoreThan 2): number 3 of the images it selects, newest first
	// EXPIRE []: follows its subject sha256:82f3e9c695dc6b8d1b11818d5701919e286de8d47f7c3eb3100c485f79e57828, acted on by rule 1 (imageCountMoreThan 2)
	// TRANSITION [tools]: rule 2 (sinceImagePulled 90 days): pulled 2025-02-01T00:00:00Z, more than 90 days before the evaluation
	// expiring 2, transitioning [{TargetStorageClass:ARCHIVE ImageTotalCount:1}]
	// Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: rules[0].selection: Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED'
}
