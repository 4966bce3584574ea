package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestECRRepositoryLifecycle(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()

	before := time.Now().Add(-time.Second)
	created, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:             aws.String("team-a/web"),
		ImageTagMutability:         types.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		Tags:                       []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	})
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	want := wantRepository{name: "team-a/web", mutability: types.ImageTagMutabilityImmutable, scanOnPush: true}
	want.check(t, s, "CreateRepository", created.Repository, before)

	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team-a/web")})
	if e := wantException[*types.RepositoryAlreadyExistsException](t, "CreateRepository twice", err); e != nil &&
		!strings.Contains(e.ErrorMessage(), "team-a/web") {
		t.Errorf("RepositoryAlreadyExistsException message %q does not name the repository", e.ErrorMessage())
	}
	for _, bad := range []string{"Team/web", "a", "web/", "/web", "a//b", "a._b", "web app", "web:1", "web@x", "123456789012/app",
		strings.Repeat("a", 257)} {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(bad)})
		wantException[*types.InvalidParameterException](t, fmt.Sprintf("CreateRepository %q", bad), err)
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("mut/bad"),
		ImageTagMutability: types.ImageTagMutability("SOMETIMES")})
	wantException[*types.InvalidParameterException](t, "CreateRepository imageTagMutability SOMETIMES", err)
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("enc/bad"),
		EncryptionConfiguration: &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeAes256, KmsKey: aws.String("arn:aws:kms:us-east-1:000000000000:key/x")}})
	wantException[*types.InvalidParameterException](t, "CreateRepository AES256 with a KMS key", err)

	// Describe by name, and the whole listing.
	got, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/web"}})
	if err != nil || len(got.Repositories) != 1 {
		t.Fatalf("DescribeRepositories [team-a/web] = %v, %v", got, err)
	}
	want.check(t, s, "DescribeRepositories", &got.Repositories[0], before)
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/web", "team-a/missing"}})
	wantException[*types.RepositoryNotFoundException](t, "DescribeRepositories with a missing name", err)
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/web"}, MaxResults: aws.Int32(5)})
	wantException[*types.InvalidParameterException](t, "DescribeRepositories repositoryNames with maxResults", err)

	// Settings changes show in later descriptions.
	mut, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team-a/web"),
		ImageTagMutability: types.ImageTagMutabilityMutable})
	if err != nil || mut.ImageTagMutability != types.ImageTagMutabilityMutable || aws.ToString(mut.RepositoryName) != "team-a/web" ||
		aws.ToString(mut.RegistryId) != defaultAccount {
		t.Errorf("PutImageTagMutability = %+v, %v", mut, err)
	}
	scan, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("team-a/web"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: false}})
	if err != nil || scan.ImageScanningConfiguration == nil || scan.ImageScanningConfiguration.ScanOnPush ||
		aws.ToString(scan.RegistryId) != defaultAccount {
		t.Errorf("PutImageScanningConfiguration = %+v, %v", scan, err)
	}
	got, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/web"}})
	if err != nil {
		t.Fatal(err)
	}
	want.mutability, want.scanOnPush = types.ImageTagMutabilityMutable, false
	want.check(t, s, "DescribeRepositories after the changes", &got.Repositories[0], before)
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team-a/web"),
		ImageTagMutability: types.ImageTagMutability("mutable")})
	wantException[*types.InvalidParameterException](t, "PutImageTagMutability mutable (lowercase)", err)
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("nope/none"),
		ImageTagMutability: types.ImageTagMutabilityMutable})
	wantException[*types.RepositoryNotFoundException](t, "PutImageTagMutability on a missing repository", err)
	_, err = c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("nope/none"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}})
	wantException[*types.RepositoryNotFoundException](t, "PutImageScanningConfiguration on a missing repository", err)

	reg, err := c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil || aws.ToString(reg.RegistryId) != defaultAccount || reg.ReplicationConfiguration == nil ||
		len(reg.ReplicationConfiguration.Rules) != 0 {
		t.Errorf("DescribeRegistry = %+v, %v; want registry %s with no replication rules", reg, err, defaultAccount)
	}
}

// wantRepository is what a repository description must say.
type wantRepository struct {
	name       string
	mutability types.ImageTagMutability
	scanOnPush bool
}

func (w wantRepository) check(t testing.TB, s *server, what string, r *types.Repository, createdAfter time.Time) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no repository in the response", what)
		return
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"repositoryName", aws.ToString(r.RepositoryName), w.name},
		{"registryId", aws.ToString(r.RegistryId), defaultAccount},
		{"repositoryArn", aws.ToString(r.RepositoryArn), "arn:aws:ecr:us-east-1:" + defaultAccount + ":repository/" + w.name},
		{"repositoryUri", aws.ToString(r.RepositoryUri), s.host + "/" + w.name},
		{"imageTagMutability", r.ImageTagMutability, w.mutability},
		{"scanOnPush", r.ImageScanningConfiguration != nil && r.ImageScanningConfiguration.ScanOnPush, w.scanOnPush},
		{"encryptionType", r.EncryptionConfiguration != nil && r.EncryptionConfiguration.EncryptionType == types.EncryptionTypeAes256, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %s = %v, want %v", what, c.field, c.got, c.want)
		}
	}
	if r.CreatedAt == nil || r.CreatedAt.Before(createdAfter) || r.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: createdAt %v, want between %v and now", what, r.CreatedAt, createdAfter)
	}
}

func TestECRDeleteRepository(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "del/empty")
	createRepo(t, ctx, c, "del/full")
	s.pushImage(t, ctx, "del/full", "v1", randomImage(t, 256, 1))

	out, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("del/empty")})
	if err != nil || out.Repository == nil || aws.ToString(out.Repository.RepositoryName) != "del/empty" {
		t.Errorf("DeleteRepository of an empty repository without force = %+v, %v", out, err)
	}
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("del/full")})
	wantException[*types.RepositoryNotEmptyException](t, "DeleteRepository of a repository with images, no force", err)
	if tags, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("del/full")}); err != nil || len(tags.ImageIds) != 1 {
		t.Errorf("images after the refused delete = %+v, %v; want the one image", tags, err)
	}
	out, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("del/full"), Force: true})
	if err != nil || out.Repository == nil || aws.ToString(out.Repository.RepositoryArn) !=
		"arn:aws:ecr:us-east-1:"+defaultAccount+":repository/del/full" {
		t.Errorf("DeleteRepository force = %+v, %v", out, err)
	}
	for _, name := range []string{"del/empty", "del/full"} {
		_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		wantException[*types.RepositoryNotFoundException](t, "DescribeRepositories of deleted "+name, err)
		_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(name), Force: true})
		wantException[*types.RepositoryNotFoundException](t, "DeleteRepository of deleted "+name, err)
	}
	r := s.do(t, http.MethodGet, "/v2/del/full/tags/list", nil, nil)
	wantError(t, "tags list of the force-deleted repository", r, http.StatusNotFound, "NAME_UNKNOWN")
	// The name can be used again, and starts empty.
	createRepo(t, ctx, c, "del/full")
	if imgs, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("del/full")}); err != nil || len(imgs.ImageIds) != 0 {
		t.Errorf("recreated repository lists %+v, %v; want no images", imgs, err)
	}
}

func TestECRDescribeRepositoriesPagination(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("page/repo-%02d", i)
		createRepo(t, ctx, c, name)
		want = append(want, name)
	}
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		if len(page.Repositories) > 2 {
			t.Errorf("page %d has %d repositories, maxResults 2", pages, len(page.Repositories))
		}
		for _, r := range page.Repositories {
			got = append(got, aws.ToString(r.RepositoryName))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("paginator walked %d pages of %v, want 4 pages of %v", pages, got, want)
	}
	// Without maxResults, one page holds them all and no token.
	all, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil || len(all.Repositories) != 7 || all.NextToken != nil {
		t.Errorf("DescribeRepositories without maxResults: %d repositories, nextToken %v, %v", len(all.Repositories), all.NextToken, err)
	}

	first, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(3)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	tok := aws.ToString(first.NextToken)
	bad := map[string]string{
		"garbage token":  "not-a-token",
		"tampered token": tok[:len(tok)-2] + flipChar(tok[len(tok)-2]) + tok[len(tok)-1:],
	}
	for what, token := range bad {
		_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: aws.String(token)})
		wantException[*types.InvalidParameterException](t, "DescribeRepositories with a "+what, err)
	}
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: first.NextToken, RepositoryNames: []string{"page/repo-00"}})
	wantException[*types.InvalidParameterException](t, "DescribeRepositories nextToken with repositoryNames", err)
	for _, n := range []int32{0, 1001} {
		_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(n)})
		wantException[*types.InvalidParameterException](t, fmt.Sprintf("DescribeRepositories maxResults %d", n), err)
	}
	// A DescribeRepositories token means nothing to ListImages.
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("page/repo-00"), NextToken: first.NextToken})
	wantException[*types.InvalidParameterException](t, "ListImages with a DescribeRepositories token", err)
}

// flipChar returns a different character of the base64url alphabet.
func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestECRResourceTags(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "tags/app")
	arn := aws.String("arn:aws:ecr:us-east-1:" + defaultAccount + ":repository/tags/app")
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	list := func() map[string]string {
		t.Helper()
		out, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		m := map[string]string{}
		for _, tg := range out.Tags {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	if got := list(); len(got) != 0 {
		t.Errorf("tags of a new repository = %v", got)
	}
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("env", "prod"), tag("team", "a"), tag("empty", "")}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("env", "staging")}}); err != nil {
		t.Fatalf("TagResource overwrite: %v", err)
	}
	if got := list(); fmt.Sprint(got) != fmt.Sprint(map[string]string{"empty": "", "env": "staging", "team": "a"}) {
		t.Errorf("tags = %v, want env=staging team=a empty=", got)
	}
	if _, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"team", "never-set"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	if got := list(); fmt.Sprint(got) != fmt.Sprint(map[string]string{"empty": "", "env": "staging"}) {
		t.Errorf("tags after untag = %v", got)
	}

	// Key and value lengths, the aws: prefix.
	invalid := map[string]types.Tag{
		"key of 129 characters":   tag(strings.Repeat("k", 129), "v"),
		"empty key":               tag("", "v"),
		"value of 257 characters": tag("long", strings.Repeat("v", 257)),
		"aws: prefix":             tag("aws:owner", "me"),
		"AWS: prefix":             tag("AWS:owner", "me"),
	}
	for what, tg := range invalid {
		_, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tg}})
		wantException[*types.InvalidTagParameterException](t, "TagResource with a "+what, err)
	}
	_, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"aws:owner"}})
	wantException[*types.InvalidTagParameterException](t, "UntagResource of an aws: key", err)
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn,
		Tags: []types.Tag{tag(strings.Repeat("k", 128), strings.Repeat("v", 256))}}); err != nil {
		t.Errorf("TagResource with a 128-character key and 256-character value: %v", err)
	}
	if got := list(); len(got) != 3 {
		t.Errorf("after refused tags: %d tags, want 3: %v", len(got), got)
	}

	// 50 tags per repository.
	var fill []types.Tag
	for i := len(list()); i < 50; i++ {
		fill = append(fill, tag(fmt.Sprintf("k%02d", i), "v"))
	}
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: fill}); err != nil {
		t.Fatalf("TagResource up to 50 tags: %v", err)
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("one-too-many", "v")}})
	wantException[*types.TooManyTagsException](t, "TagResource with a 51st tag", err)
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("env", "prod")}}); err != nil {
		t.Errorf("TagResource overwriting a key at 50 tags: %v", err)
	}
	if got := list(); len(got) != 50 || got["env"] != "prod" {
		t.Errorf("at the limit: %d tags, env=%q; want 50, prod", len(got), got["env"])
	}
	var many []types.Tag
	for i := range 51 {
		many = append(many, tag(fmt.Sprintf("k%02d", i), "v"))
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tags/many"), Tags: many})
	wantException[*types.TooManyTagsException](t, "CreateRepository with 51 tags", err)
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tags/aws"), Tags: []types.Tag{tag("aws:x", "y")}})
	wantException[*types.InvalidTagParameterException](t, "CreateRepository with an aws: tag", err)
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tags/fifty"), Tags: many[:50]}); err != nil {
		t.Errorf("CreateRepository with 50 tags: %v", err)
	}
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"tags/many"}})
	wantException[*types.RepositoryNotFoundException](t, "repository refused for its tags", err)

	// ARNs.
	for _, bad := range []string{"tags/app", "arn:aws:ecr:eu-west-1:" + defaultAccount + ":repository/tags/app",
		"arn:aws:s3:::bucket", "arn:aws:ecr:us-east-1:" + defaultAccount + ":image/tags/app"} {
		_, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(bad)})
		wantException[*types.InvalidParameterException](t, "ListTagsForResource "+bad, err)
	}
	missing := aws.String("arn:aws:ecr:us-east-1:" + defaultAccount + ":repository/tags/missing")
	_, err = c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: missing})
	wantException[*types.RepositoryNotFoundException](t, "ListTagsForResource of a missing repository", err)
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: missing, Tags: []types.Tag{tag("a", "b")}})
	wantException[*types.RepositoryNotFoundException](t, "TagResource of a missing repository", err)
	_, err = c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: missing, TagKeys: []string{"a"}})
	wantException[*types.RepositoryNotFoundException](t, "UntagResource of a missing repository", err)
}
