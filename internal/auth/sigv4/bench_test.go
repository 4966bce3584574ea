package sigv4_test

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/auth/sigv4"
)

// BenchmarkVerify measures the per-request cost on a typical ECR call
// (SDK-signed JSON POST), with and without the derived-key cache.
func BenchmarkVerify(b *testing.B) {
	c := headerCases[0]
	c.body = `{"repositoryName":"team/app","imageIds":[{"imageTag":"v1"}]}` + strings.Repeat(" ", 512)
	r, body := c.sign(b, "us-east-1")
	for _, bc := range []struct {
		name      string
		cacheSize int
		parse     bool
	}{
		{"cached", 0, false},
		{"uncached", -1, false},
		{"parse+cached", 0, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := newVerifier("ecr")
			v.KeyCacheSize = bc.cacheSize
			p, err := sigv4.Parse(r)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if bc.parse {
					if p, err = sigv4.Parse(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := v.Verify(r, p, secretKey, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
