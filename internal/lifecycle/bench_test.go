package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
)

// benchPolicy is a realistic six-rule policy: keep 100 releases and archive
// older ones, expire pull-request builds after two weeks, keep 50 dev
// builds, expire untagged images after a week, archive what nobody pulled
// for 90 days and delete what sat in the archive for 180.
const benchPolicy = `{"rules":[
 {"rulePriority":1,"description":"archive all but the newest 100 releases","selection":{"tagStatus":"tagged","tagPrefixList":["release-"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"transition","targetStorageClass":"archive"}},
 {"rulePriority":2,"description":"pull-request builds live two weeks","selection":{"tagStatus":"tagged","tagPatternList":["pr-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}},
 {"rulePriority":3,"description":"keep 50 amd64 dev builds","selection":{"tagStatus":"tagged","tagPatternList":["dev-*","*-amd64"],"countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
 {"rulePriority":4,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
 {"rulePriority":5,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}},
 {"rulePriority":6,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":180},"action":{"type":"expire"}}
]}`

// benchRepository makes n images: untagged builds, pull-request, dev and
// release tags, multi-arch indexes with two children each, signatures and
// SBOMs, archived and restored images, pull times.
func benchRepository(n int) []Image {
	rng := rand.New(rand.NewPCG(7, 8))
	images := make([]Image, 0, n)
	for len(images) < n {
		i := len(images)
		im := Image{Digest: digest.FromString(fmt.Sprint("bench-", i)), PushedAt: daysAgo(rng.Float64() * 600)}
		switch k := rng.IntN(100); {
		case k < 30: // untagged build
		case k < 55:
			im.Tags = []string{fmt.Sprintf("pr-%d", rng.IntN(5000))}
		case k < 70:
			im.Tags = []string{fmt.Sprintf("dev-%x-amd64", rng.Uint32()), "dev-latest"}
		case k < 80:
			im.Tags = []string{fmt.Sprintf("release-%d.%d.%d", rng.IntN(5), rng.IntN(20), rng.IntN(30))}
		case k < 85 && len(images)+3 <= n: // a multi-arch index and its children
			im.Tags = []string{fmt.Sprintf("multi-%d", i)}
			for c := range 2 {
				images = append(images, Image{Digest: digest.FromString(fmt.Sprint("bench-child-", i, c)), PushedAt: im.PushedAt,
					ReferencedBy: []digest.Digest{im.Digest}})
			}
		case k < 90 && i > 0: // a signature or SBOM of an earlier image
			im.Subject = images[rng.IntN(i)].Digest
		}
		switch r := rng.IntN(100); {
		case r < 40:
			im.LastRecordedPullTime = daysAgo(rng.Float64() * 200)
		case r < 55:
			im.StorageClass, im.LastArchivedAt = Archive, daysAgo(rng.Float64()*365)
		case r < 58:
			im.LastArchivedAt, im.LastActivatedAt = daysAgo(300), daysAgo(rng.Float64()*100)
		}
		images = append(images, im)
	}
	return images[:n]
}

func BenchmarkEvaluate100k(b *testing.B) {
	p := mustParse(b, benchPolicy)
	images := benchRepository(100_000)
	res := Evaluate(p, images, now)
	b.Logf("100k images: %d decisions (%d expire, %+v), %d held",
		len(res.Decisions), res.Summary.ExpiringImageTotalCount, res.Summary.TransitioningImageTotalCounts, len(res.Held))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Evaluate(p, images, now)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchPolicy); err != nil {
			b.Fatal(err)
		}
	}
}
