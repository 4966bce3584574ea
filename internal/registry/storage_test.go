package registry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

// statusIn returns the image's status as DescribeImageIDs sees it.
func statusIn(t *testing.T, e *rt.Env, d digest.Digest) registry.ImageStatus {
	t.Helper()
	imgs, fails, err := e.Service.DescribeImageIDs(ctx, root, repo, []registry.ImageID{{Digest: d.String()}})
	if err != nil || len(fails) != 0 || len(imgs) != 1 {
		t.Fatalf("DescribeImageIDs(%s) = %v, %v, %v", d, imgs, fails, err)
	}
	return imgs[0].Status
}

func wantPullRefused(t *testing.T, e *rt.Env, ref, want string) {
	t.Helper()
	_, err := e.Service.GetManifest(ctx, root, repo, ref)
	if !errors.Is(err, registry.ErrImageArchived) || !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("GetManifest(%s) = %v, want ErrImageArchived (a MANIFEST_UNKNOWN)", ref, err)
	}
	if msg := registry.Message(err); !strings.Contains(msg, want) {
		t.Errorf("GetManifest(%s) message %q does not say %q", ref, msg, want)
	}
}

func TestArchiveRefusesPullsUntilRestored(t *testing.T) {
	t.Parallel()
	triggered := 0
	e := newEnv(t, registry.Options{RestoreRequested: func(context.Context) { triggered++ }})
	_, d := e.Push(t, root, repo, "v1", image)

	id, st, err := e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Tag: "v1"}, registry.StorageArchive)
	if err != nil || st != registry.ImageArchived || id.Digest != d.String() || id.Tag != "v1" {
		t.Fatalf("archive = %+v, %s, %v; want %s ARCHIVED", id, st, err, d)
	}
	for _, ref := range []string{"v1", d.String()} {
		wantPullRefused(t, e, ref, "aws ecr update-image-storage-class --repository-name app --image-id imageDigest="+d.String()+
			" --target-storage-class STANDARD")
	}
	ms, _, fails, err := e.Service.BatchGetImage(ctx, root, repo, []registry.ImageID{{Tag: "v1"}}, nil)
	if err != nil || len(ms) != 0 || len(fails) != 1 || fails[0].Code != registry.FailureImageInaccessible ||
		!strings.Contains(fails[0].Reason, "archived") {
		t.Fatalf("BatchGetImage of an archived image = %d images, %+v, %v; want an ImageInaccessible failure", len(ms), fails, err)
	}
	if st := statusIn(t, e, d); st != registry.ImageArchived {
		t.Errorf("DescribeImageIDs status %s, want ARCHIVED", st)
	}
	active := registry.ImageFilter{TagStatus: registry.TagStatusAny, Status: registry.ImageActive}
	if imgs, _, err := e.Service.ListImages(ctx, root, registry.ActionListImages, repo, active, "", 10); err != nil || len(imgs) != 0 {
		t.Errorf("ListImages(ACTIVE) = %v, %v; want no archived image", imgs, err)
	}

	if triggered != 0 {
		t.Errorf("archiving triggered the restore job %d times", triggered)
	}
	_, st, err = e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Digest: d.String()}, registry.StorageStandard)
	if err != nil || st != registry.ImageActivating {
		t.Fatalf("restore = %s, %v; want ACTIVATING", st, err)
	}
	if triggered != 1 {
		t.Errorf("a restore request triggered the restore job %d times, want 1", triggered)
	}
	wantPullRefused(t, e, "v1", "being restored")
	if n, err := e.Service.CompleteRestores(ctx); err != nil || n != 1 {
		t.Fatalf("CompleteRestores = %d, %v; want 1", n, err)
	}
	if got := resolves(t, e, "v1"); got != d {
		t.Errorf("after the restore v1 resolves to %q, want %s", got, d)
	}
}

func TestStorageClassRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	a, da := e.Push(t, root, repo, "", image)
	b, db := e.Push(t, root, repo, "", rt.Image{Config: []byte(`{"architecture":"arm64"}`), Layers: [][]byte{[]byte("b")}})
	if _, err := e.Service.PutManifest(ctx, root, repo, "multi", ocispec.MediaTypeImageIndex, rt.Index(a, b), nil); err != nil {
		t.Fatal(err)
	}
	update := func(id registry.ImageID, target registry.StorageClass) error {
		_, _, err := e.Service.UpdateImageStorageClass(ctx, root, repo, id, target)
		return err
	}
	for _, c := range []struct {
		name   string
		id     registry.ImageID
		target registry.StorageClass
		kind   error
		says   string
	}{
		{"restore an active image", registry.ImageID{Digest: da.String()}, registry.StorageStandard, registry.ErrStorageClassUnsupported,
			"already in the STANDARD storage class"},
		{"archive a child of a live index", registry.ImageID{Digest: db.String()}, registry.StorageArchive, registry.ErrStorageClassUnsupported,
			"referenced by the image index"},
		{"missing tag", registry.ImageID{Tag: "nope"}, registry.StorageArchive, registry.ErrManifestUnknown, "does not exist"},
		{"missing digest", registry.ImageID{Digest: digest.FromString("x").String()}, registry.StorageArchive, registry.ErrManifestUnknown, "does not exist"},
		{"tag and digest disagree", registry.ImageID{Tag: "multi", Digest: da.String()}, registry.StorageArchive, registry.ErrManifestUnknown, ""},
		{"no id", registry.ImageID{}, registry.StorageArchive, registry.ErrInvalidParameter, "imageId"},
		{"bad digest", registry.ImageID{Digest: "sha256:zz"}, registry.StorageArchive, registry.ErrInvalidParameter, "imageId"},
		{"bad class", registry.ImageID{Tag: "multi"}, "GLACIER", registry.ErrInvalidParameter, "STANDARD or ARCHIVE"},
	} {
		err := update(c.id, c.target)
		if !errors.Is(err, c.kind) || !strings.Contains(registry.Message(err), c.says) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.kind, c.says)
		}
	}
	// Archiving the index takes both children (only it lists them).
	if err := update(registry.ImageID{Tag: "multi"}, registry.StorageArchive); err != nil {
		t.Fatalf("archive the index: %v", err)
	}
	for _, d := range []digest.Digest{da, db} {
		if st := statusIn(t, e, d); st != registry.ImageArchived {
			t.Errorf("child %s is %s after archiving its index, want ARCHIVED", d, st)
		}
	}
	for _, c := range []struct {
		target registry.StorageClass
		says   string
	}{{registry.StorageArchive, "already archived"}} {
		if err := update(registry.ImageID{Tag: "multi"}, c.target); !errors.Is(err, registry.ErrStorageClassUnsupported) ||
			!strings.Contains(registry.Message(err), c.says) {
			t.Errorf("%s an archived index: %v, want a refusal saying %q", c.target, err, c.says)
		}
	}
	if err := update(registry.ImageID{Tag: "multi"}, registry.StorageStandard); err != nil {
		t.Fatal(err)
	}
	for target, says := range map[registry.StorageClass]string{
		registry.StorageArchive: "being restored", registry.StorageStandard: "already being restored",
	} {
		if err := update(registry.ImageID{Tag: "multi"}, target); !errors.Is(err, registry.ErrStorageClassUnsupported) ||
			!strings.Contains(registry.Message(err), says) {
			t.Errorf("%s a restoring index: %v, want a refusal saying %q", target, err, says)
		}
	}
}

// TestUpdateStorageClassIsAuthorized: the action asked is
// ecr:UpdateImageStorageClass on the repository, and a denial changes nothing.
func TestUpdateStorageClassIsAuthorized(t *testing.T) {
	t.Parallel()
	var asked []string
	deny := rt.AuthorizerFunc(func(ctx context.Context, req registry.AccessRequest) error {
		if req.Action == registry.ActionUpdateImageStorageClass {
			asked = append(asked, req.Resource)
			return registry.DeniedError(req, "a test policy denies it")
		}
		return registry.AccountAuthorizer{}.Authorize(ctx, req)
	})
	e := newEnv(t, registry.Options{Authorizer: deny})
	_, d := e.Push(t, root, repo, "v1", image)
	_, _, err := e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Tag: "v1"}, registry.StorageArchive)
	wantKind(t, err, registry.ErrDenied)
	if want := []string{e.Service.ARN(repo)}; !slices.Equal(asked, want) {
		t.Errorf("authorized resources %q, want %q", asked, want)
	}
	if st := statusIn(t, e, d); st != registry.ImageActive {
		t.Errorf("a denied archive left the image %s", st)
	}
}

// TestPushRestoresArchivedImage: a /v2 push and an API PutImage of an
// archived image's manifest make it pullable at once.
func TestPushRestoresArchivedImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	body, d := e.Push(t, root, repo, "v1", image)
	archive := func() {
		t.Helper()
		if _, _, err := e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Tag: "v1"}, registry.StorageArchive); err != nil {
			t.Fatal(err)
		}
	}
	archive()
	if _, err := e.Service.PutManifest(ctx, root, repo, "v1", ocispec.MediaTypeImageManifest, body, nil); err != nil {
		t.Fatalf("re-push: %v", err)
	}
	if got := resolves(t, e, "v1"); got != d {
		t.Fatalf("after a re-push v1 resolves to %q, want %s", got, d)
	}
	archive()
	// PutImage of the identical image and tag restores rather than
	// answering ImageAlreadyExists.
	if _, err := e.Service.PutImage(ctx, root, repo, body, ocispec.MediaTypeImageManifest, "v1", ""); err != nil {
		t.Fatalf("PutImage of an archived image: %v", err)
	}
	if st := statusIn(t, e, d); st != registry.ImageActive {
		t.Errorf("after PutImage the image is %s, want ACTIVE", st)
	}
	_, err := e.Service.PutImage(ctx, root, repo, body, ocispec.MediaTypeImageManifest, "v1", "")
	wantKind(t, err, registry.ErrImageExists)
}

func TestArchivedLayersAndReferrers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	body, d := e.Push(t, root, repo, "v1", image)
	other := rt.Image{Config: []byte(`{"architecture":"s390x"}`), Layers: [][]byte{image.Layers[0]}} // shares layer one
	e.Push(t, root, repo, "v2", other)
	subject := rt.Descriptor(ocispec.MediaTypeImageManifest, body)
	_, sig := e.Push(t, root, repo, "", rt.Image{Config: []byte("{}"), Layers: [][]byte{[]byte("signature")},
		ArtifactType: "application/vnd.example.sig", Subject: &subject})
	if _, _, err := e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Tag: "v1"}, registry.StorageArchive); err != nil {
		t.Fatal(err)
	}
	if st := statusIn(t, e, sig); st != registry.ImageArchived {
		t.Errorf("the referrer of an archived image is %s, want ARCHIVED", st)
	}
	infos, err := e.Service.CheckLayers(ctx, root, repo, []string{digest.FromBytes(image.Layers[0]).String(),
		digest.FromBytes(image.Layers[1]).String(), digest.FromBytes(other.Config).String()})
	if err != nil {
		t.Fatal(err)
	}
	if got := []bool{infos[0].Archived, infos[1].Archived, infos[2].Archived}; !slices.Equal(got, []bool{false, true, false}) {
		t.Errorf("archived layers %v, want only the one no active image uses", got)
	}
	// /v2 lists only referrers that can be pulled; the API can ask for any.
	descs, _, err := e.Service.Referrers(ctx, root, repo, d.String(), "", "", 10)
	if err != nil || len(descs) != 0 {
		t.Errorf("/v2 referrers of an archived subject = %v, %v; want none", descs, err)
	}
	for status, want := range map[registry.ImageStatus]int{registry.ImageArchived: 1, registry.ImageStatusAny: 1, registry.ImageActive: 0} {
		ms, _, err := e.Service.ListReferrers(ctx, root, repo, d.String(), "", status, "", 10)
		if err != nil || len(ms) != want || (want == 1 && ms[0].Digest != sig) {
			t.Errorf("ListReferrers(%s) = %v, %v; want %d", status, ms, err, want)
		}
	}
	// Deleting an archived image is allowed.
	if _, fails, err := e.Service.BatchDeleteImage(ctx, root, repo, []registry.ImageID{{Digest: sig.String()}}); err != nil || len(fails) != 0 {
		t.Errorf("BatchDeleteImage(archived) = %+v, %v", fails, err)
	}
}

// TestReferrersPageOverArchived: pages stay full and correct when archived
// referrers sit between active ones.
func TestReferrersPageOverArchived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	body, d := e.Push(t, root, repo, "v1", image)
	subject := rt.Descriptor(ocispec.MediaTypeImageManifest, body)
	var active []string
	for i := range 9 {
		_, r := e.Push(t, root, repo, "", rt.Image{Config: []byte("{}"), Layers: [][]byte{{byte(i)}},
			ArtifactType: "application/vnd.example", Subject: &subject})
		if i%3 == 0 {
			if _, _, err := e.Service.UpdateImageStorageClass(ctx, root, repo, registry.ImageID{Digest: r.String()},
				registry.StorageArchive); err != nil {
				t.Fatal(err)
			}
			continue
		}
		active = append(active, r.String())
	}
	slices.Sort(active)
	var got []string
	last := ""
	for range 10 {
		descs, more, err := e.Service.Referrers(ctx, root, repo, d.String(), "", last, 2)
		if err != nil {
			t.Fatal(err)
		}
		if more && len(descs) != 2 {
			t.Fatalf("a page of %d with more to come, want full pages", len(descs))
		}
		for _, x := range descs {
			got = append(got, x.Digest.String())
			last = x.Digest.String()
		}
		if !more {
			break
		}
	}
	if !slices.Equal(got, active) {
		t.Errorf("paged referrers %v, want the active ones %v", got, active)
	}
}

// TestExclusionsService: validation, limits and authorization as a
// registry-level action.
func TestExclusionsService(t *testing.T) {
	t.Parallel()
	var asked []registry.AccessRequest
	authz := rt.AuthorizerFunc(func(ctx context.Context, req registry.AccessRequest) error {
		asked = append(asked, req)
		if req.Principal.Type == auth.TypeIAMUser {
			return registry.DeniedError(req, "no identity-based policy allows the "+req.Action+" action")
		}
		return registry.AccountAuthorizer{}.Authorize(ctx, req)
	})
	e := newEnv(t, registry.Options{Authorizer: authz})
	arn := "arn:aws:iam::" + rt.Account + ":user/ci/scanner"
	ex, err := e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, arn)
	if err != nil || ex.PrincipalARN != arn || !ex.CreatedAt.Equal(e.Clock.Now()) {
		t.Fatalf("RegisterPullTimeExclusion = %+v, %v", ex, err)
	}
	if last := asked[len(asked)-1]; last.Action != registry.ActionRegisterPullTimeUpdateExclusion || last.Resource != "*" ||
		last.ResourceAccount != rt.Account {
		t.Errorf("authorized %+v, want ecr:RegisterPullTimeUpdateExclusion on * of the account", last)
	}
	_, err = e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, arn)
	wantKind(t, err, registry.ErrExclusionExists)
	for _, bad := range []string{"", "arn:aws:iam::1:user/x", "arn:aws:iam::" + rt.Account + ":root", "arn:aws:sts::" + rt.Account + ":user/x",
		"arn:aws:iam::" + rt.Account + ":user/" + strings.Repeat("x", 200)} {
		_, err := e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, bad)
		wantKind(t, err, registry.ErrInvalidParameter)
	}
	user := auth.Principal{Type: auth.TypeIAMUser, AccountID: rt.Account, UserName: "dev"}
	_, err = e.Service.RegisterPullTimeExclusion(ctx, user, rt.Account, arn+"2")
	wantKind(t, err, registry.ErrDenied)
	for i := 1; i < registry.MaxPullTimeExclusions; i++ {
		if _, err := e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, arn+strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, arn+"-one-too-many")
	wantKind(t, err, registry.ErrLimitExceeded)
	list, more, err := e.Service.ListPullTimeExclusions(ctx, root, rt.Account, "", 60)
	if err != nil || len(list) != 60 || !more {
		t.Fatalf("ListPullTimeExclusions(60) = %d, %v, %v", len(list), more, err)
	}
	rest, more, err := e.Service.ListPullTimeExclusions(ctx, root, rt.Account, list[59].PrincipalARN, 60)
	if err != nil || len(rest) != 40 || more {
		t.Fatalf("ListPullTimeExclusions(rest) = %d, %v, %v", len(rest), more, err)
	}
	wantKind(t, e.Service.DeregisterPullTimeExclusion(ctx, root, rt.Account, arn), nil)
	wantKind(t, e.Service.DeregisterPullTimeExclusion(ctx, root, rt.Account, arn), registry.ErrExclusionNotFound)
	_, _, err = e.Service.ListPullTimeExclusions(ctx, user, rt.Account, "", 10)
	wantKind(t, err, registry.ErrDenied)
}
