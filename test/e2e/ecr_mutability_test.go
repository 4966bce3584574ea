package e2e

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestECRTagMutabilityExclusions: exclusion filters set through the API
// decide which tags a /v2 push may move.
func TestECRTagMutabilityExclusions(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	filters := []types.ImageTagMutabilityExclusionFilter{{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("dev-*")}}
	out, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("excl/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: filters})
	if err != nil {
		t.Fatal(err)
	}
	if f := out.Repository.ImageTagMutabilityExclusionFilters; len(f) != 1 || aws.ToString(f[0].Filter) != "dev-*" {
		t.Fatalf("created with filters %+v", f)
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("excl/bad"),
		ImageTagMutability: types.ImageTagMutabilityImmutable, ImageTagMutabilityExclusionFilters: filters})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("filters with plain IMMUTABLE: %v, want InvalidParameterException", err)
	}

	push := func(tag string) error {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		return remote.Write(s.repo(t, "excl/app").Tag(tag), img, remoteOpts(ctx)...)
	}
	for _, tag := range []string{"v1", "dev-1"} {
		if err := push(tag); err != nil {
			t.Fatalf("first push of %s: %v", tag, err)
		}
	}
	var te *transport.Error
	if err := push("v1"); !errors.As(err, &te) || te.StatusCode != http.StatusBadRequest || te.Errors[0].Code != "TAG_INVALID" {
		t.Fatalf("moving protected tag v1: %v, want 400 TAG_INVALID", err)
	}
	if err := push("dev-1"); err != nil {
		t.Fatalf("moving excluded tag dev-1: %v", err)
	}

	// Flip to MUTABLE_WITH_EXCLUSION: now only dev-* is protected.
	put, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("excl/app"),
		ImageTagMutability: types.ImageTagMutabilityMutableWithExclusion, ImageTagMutabilityExclusionFilters: filters})
	if err != nil || len(put.ImageTagMutabilityExclusionFilters) != 1 {
		t.Fatalf("PutImageTagMutability = %+v, %v", put, err)
	}
	if err := push("v1"); err != nil {
		t.Fatalf("moving v1 after the change: %v", err)
	}
	if err := push("dev-1"); !errors.As(err, &te) || te.StatusCode != http.StatusBadRequest {
		t.Fatalf("moving dev-1 after the change: %v, want 400", err)
	}
	desc, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"excl/app"}})
	if err != nil || desc.Repositories[0].ImageTagMutability != types.ImageTagMutabilityMutableWithExclusion ||
		len(desc.Repositories[0].ImageTagMutabilityExclusionFilters) != 1 {
		t.Fatalf("DescribeRepositories = %+v, %v", desc, err)
	}
}
