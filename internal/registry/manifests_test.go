package registry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

var image = rt.Image{Config: []byte(`{"architecture":"amd64"}`), Layers: [][]byte{[]byte("layer one"), []byte("layer two!")}}

// pushBlobs uploads the image's config and layers into repo.
func pushBlobs(t *testing.T, e *rt.Env, im rt.Image) {
	t.Helper()
	e.PutBlob(t, root, repo, im.Config)
	for _, l := range im.Layers {
		e.PutBlob(t, root, repo, l)
	}
}

func resolves(t *testing.T, e *rt.Env, ref string) digest.Digest {
	t.Helper()
	m, err := e.Service.GetManifest(ctx, root, repo, ref)
	if errors.Is(err, registry.ErrManifestUnknown) {
		return ""
	}
	if err != nil {
		t.Fatalf("GetManifest %s: %v", ref, err)
	}
	return m.Digest
}

func TestPutManifest(t *testing.T) {
	t.Parallel()
	body := image.JSON()
	d := digest.FromBytes(body)
	d512 := digest.SHA512.FromBytes(body)
	tests := []struct {
		name      string
		want      digest.Digest // the stored digest when not d
		reference string
		extra     []string
		body      []byte
		noBlobs   bool
		kind      error
		tags      []string // resolve to d afterwards
	}{
		{name: "by tag", reference: "v1", body: body, tags: []string{"v1"}},
		{name: "by digest", reference: d.String(), body: body},
		{name: "by sha512 digest", want: d512, reference: d512.String(), extra: []string{"v512"}, body: body, tags: []string{"v512"}},
		{name: "by digest with tags", reference: d.String(), extra: []string{"a", "b"}, body: body, tags: []string{"a", "b"}},
		{name: "by tag with tags", reference: "v1", extra: []string{"latest"}, body: body, tags: []string{"v1", "latest"}},
		{name: "digest mismatch", reference: digest.FromString("x").String(), body: body, kind: registry.ErrDigestInvalid},
		{name: "malformed digest", reference: "sha256:zz", body: body, kind: registry.ErrDigestInvalid},
		{name: "invalid tag", reference: "-bad", body: body, kind: registry.ErrTagInvalid},
		{name: "invalid extra tag", reference: "v1", extra: []string{"a:b"}, body: body, kind: registry.ErrTagInvalid},
		{name: "not JSON", reference: "v1", body: []byte("nope"), kind: registry.ErrManifestInvalid},
		{name: "missing blobs", reference: "v1", body: body, noBlobs: true, kind: registry.ErrManifestBlobUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, registry.Options{})
			if !tc.noBlobs {
				pushBlobs(t, e, image)
			}
			res, err := e.Service.PutManifest(ctx, root, repo, tc.reference, ocispec.MediaTypeImageManifest, tc.body, tc.extra)
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
				if got := resolves(t, e, d.String()); got != "" {
					t.Fatalf("manifest stored after a failed push")
				}
				return
			}
			d := d
			if tc.want != "" {
				d = tc.want
			}
			if err != nil || res.Digest != d || res.Subject != "" {
				t.Fatalf("PutManifest = %+v, %v; want digest %s", res, err, d)
			}
			m, err := e.Service.GetManifest(ctx, root, repo, d.String())
			if err != nil || string(m.Body) != string(body) || m.MediaType != ocispec.MediaTypeImageManifest ||
				m.ImageSize != image.Size() || !m.PushedAt.Equal(e.Clock.Now()) {
				t.Fatalf("stored %+v, %v", m, err)
			}
			for _, tag := range tc.tags {
				if got := resolves(t, e, tag); got != d {
					t.Errorf("tag %s resolves to %q, want %s", tag, got, d)
				}
			}
		})
	}
}

func TestPutManifestMissingBlobDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	e.PutBlob(t, root, repo, image.Config)
	e.PutBlob(t, root, repo, image.Layers[0])
	_, err := e.Service.PutManifest(ctx, root, repo, "v1", "", image.JSON(), nil)
	wantKind(t, err, registry.ErrManifestBlobUnknown)
	missing := digest.FromBytes(image.Layers[1]).String()
	if det, _ := registry.Detail(err).(map[string]string); det["digest"] != missing {
		t.Errorf("detail = %#v, want digest %s", registry.Detail(err), missing)
	}
	if msg := registry.Message(err); !strings.Contains(msg, "blob "+missing) {
		t.Errorf("message %q does not name blob %s", msg, missing)
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	small := rt.Image{Config: []byte(`{"os":"linux"}`), Layers: [][]byte{[]byte("s")}}
	big := rt.Image{Config: []byte(`{"os":"windows"}`), Layers: [][]byte{[]byte("a much bigger layer")}}
	smallBody, smallD := e.Push(t, root, repo, "", small)
	bigBody, bigD := e.Push(t, root, repo, "", big)
	absent := rt.Image{Config: []byte("{}")}.JSON()

	_, err := e.Service.PutManifest(ctx, root, repo, "multi", "", rt.Index(smallBody, absent), nil)
	wantKind(t, err, registry.ErrManifestBlobUnknown)
	if msg := registry.Message(err); !strings.Contains(msg, "manifest "+digest.FromBytes(absent).String()) {
		t.Errorf("message %q does not name the missing child manifest", msg)
	}
	if resolves(t, e, "multi") != "" {
		t.Fatal("index stored although a child is missing")
	}

	idx := rt.Index(smallBody, bigBody)
	res, err := e.Service.PutManifest(ctx, root, repo, "multi", "", idx, nil)
	if err != nil {
		t.Fatalf("PutManifest index: %v", err)
	}
	m, err := e.Service.GetManifest(ctx, root, repo, "multi")
	if err != nil || m.Digest != res.Digest || m.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("GetManifest = %+v, %v", m, err)
	}
	if want := max(small.Size(), big.Size()); m.ImageSize != want {
		t.Errorf("index image size = %d, want the largest child's %d", m.ImageSize, want)
	}

	for _, child := range []digest.Digest{smallD, bigD} {
		err := e.Service.DeleteManifest(ctx, root, repo, child.String())
		wantKind(t, err, registry.ErrManifestReferenced)
	}
	if err := e.Service.DeleteManifest(ctx, root, repo, res.Digest.String()); err != nil {
		t.Fatalf("delete index: %v", err)
	}
	if err := e.Service.DeleteManifest(ctx, root, repo, smallD.String()); err != nil {
		t.Fatalf("delete child after its index: %v", err)
	}
}

func TestSubjectAndReferrers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	subjectBody, subjectD := e.Push(t, root, repo, "v1", image)
	subject := rt.Descriptor(ocispec.MediaTypeImageManifest, subjectBody)
	const sbom, sig = "application/spdx+json", "application/vnd.dev.cosign.signature"
	var want []digest.Digest
	for i, at := range []string{sbom, sig, sbom} {
		im := rt.Image{Config: []byte(fmt.Sprintf(`{"n":%d}`, i)), Layers: [][]byte{[]byte("payload")}, ArtifactType: at, Subject: &subject}
		pushBlobs(t, e, im)
		res, err := e.Service.PutManifest(ctx, root, repo, digest.FromBytes(im.JSON()).String(), "", im.JSON(), nil)
		if err != nil || res.Subject != subjectD {
			t.Fatalf("PutManifest referrer = %+v, %v; want subject %s", res, err, subjectD)
		}
		if at == sbom {
			want = append(want, res.Digest)
		}
	}
	slices.Sort(want)

	all, _, err := e.Service.Referrers(ctx, root, repo, subjectD.String(), "", "", 100)
	if err != nil || len(all) != 3 {
		t.Fatalf("Referrers = %+v, %v; want 3", all, err)
	}
	sboms, _, err := e.Service.Referrers(ctx, root, repo, subjectD.String(), sbom, "", 100)
	if err != nil || len(sboms) != 2 {
		t.Fatalf("Referrers(%s) = %+v, %v; want 2", sbom, sboms, err)
	}
	for i, d := range sboms {
		if d.Digest != want[i] || d.ArtifactType != sbom || d.MediaType != ocispec.MediaTypeImageManifest || d.Size <= 0 {
			t.Errorf("referrer %d = %+v, want digest %s of type %s", i, d, want[i], sbom)
		}
	}
	// Pages of one: every referrer once, in digest order, then the end.
	var paged []digest.Digest
	last := ""
	for {
		page, more, err := e.Service.Referrers(ctx, root, repo, subjectD.String(), "", last, 1)
		if err != nil || len(page) != 1 {
			t.Fatalf("page after %q = %+v, %v", last, page, err)
		}
		paged = append(paged, page[0].Digest)
		last = page[0].Digest.String()
		if !more {
			break
		}
	}
	if len(paged) != 3 || !slices.IsSorted(paged) {
		t.Fatalf("paged referrers = %v, want all 3 in order", paged)
	}
	none, _, err := e.Service.Referrers(ctx, root, repo, digest.FromString("nothing").String(), "", "", 100)
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("Referrers of an unknown subject = %#v, %v; want empty", none, err)
	}
	_, _, err = e.Service.Referrers(ctx, root, repo, "latest", "", "", 100)
	wantKind(t, err, registry.ErrDigestInvalid)
	_, _, err = e.Service.Referrers(ctx, root, rt.Ref(rt.Account, "missing"), subjectD.String(), "", "", 100)
	wantKind(t, err, registry.ErrNameUnknown)
	_, _, err = e.Service.Referrers(ctx, rt.Root(rt.OtherAccount), repo, subjectD.String(), "", "", 100)
	wantKind(t, err, registry.ErrDenied)
}

func TestDeleteManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		reference func(d digest.Digest) string
		kind      error
		gone      []string // references that no longer resolve
		kept      []string
	}{
		{"by tag", func(digest.Digest) string { return "v1" }, nil, []string{"v1"}, []string{"latest", "@"}},
		{"by digest", func(d digest.Digest) string { return d.String() }, nil, []string{"v1", "latest", "@"}, nil},
		{"unknown tag", func(digest.Digest) string { return "nope" }, registry.ErrManifestUnknown, nil, []string{"v1", "latest", "@"}},
		{"unknown digest", func(digest.Digest) string { return digest.FromString("x").String() }, registry.ErrManifestUnknown, nil, []string{"v1", "@"}},
		{"invalid tag", func(digest.Digest) string { return ".bad" }, registry.ErrTagInvalid, nil, []string{"v1"}},
		{"malformed digest", func(digest.Digest) string { return "sha256:" }, registry.ErrDigestInvalid, nil, []string{"v1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, registry.Options{})
			_, d := e.Push(t, root, repo, "v1", image)
			if _, err := e.Service.PutManifest(ctx, root, repo, "latest", "", image.JSON(), nil); err != nil {
				t.Fatal(err)
			}
			err := e.Service.DeleteManifest(ctx, root, repo, tc.reference(d))
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
			} else if err != nil {
				t.Fatalf("DeleteManifest: %v", err)
			}
			at := func(ref string) string {
				if ref == "@" {
					return d.String()
				}
				return ref
			}
			for _, ref := range tc.gone {
				if got := resolves(t, e, at(ref)); got != "" {
					t.Errorf("%s still resolves to %s", ref, got)
				}
			}
			for _, ref := range tc.kept {
				if got := resolves(t, e, at(ref)); got != d {
					t.Errorf("%s resolves to %q, want %s", ref, got, d)
				}
			}
		})
	}
}

func TestListTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	for _, tag := range []string{"c", "a", "e", "b", "d"} {
		e.Push(t, root, repo, tag, image)
	}
	e.CreateRepository(t, rt.Account, "empty")
	tests := []struct {
		name  string
		r     registry.RepoRef
		last  string
		n     int
		want  []string
		more  bool
		kind  error
		other bool // as the other account's root
	}{
		{name: "all", r: repo, n: 1000, want: []string{"a", "b", "c", "d", "e"}},
		{name: "first page", r: repo, n: 2, want: []string{"a", "b"}, more: true},
		{name: "middle page", r: repo, last: "b", n: 2, want: []string{"c", "d"}, more: true},
		{name: "last page", r: repo, last: "d", n: 2, want: []string{"e"}},
		{name: "exact fit", r: repo, n: 5, want: []string{"a", "b", "c", "d", "e"}},
		{name: "after the end", r: repo, last: "e", n: 2, want: []string{}},
		{name: "n zero", r: repo, n: 0, want: []string{}},
		{name: "empty repository", r: rt.Ref(rt.Account, "empty"), n: 10, want: []string{}},
		{name: "n too large", r: repo, n: 1001, kind: registry.ErrPaginationInvalid},
		{name: "n negative", r: repo, n: -1, kind: registry.ErrPaginationInvalid},
		{name: "missing repository", r: rt.Ref(rt.Account, "missing"), n: 10, kind: registry.ErrNameUnknown},
		{name: "n zero still authorizes", r: repo, n: 0, kind: registry.ErrDenied, other: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			who := root
			if tc.other {
				who = rt.Root(rt.OtherAccount)
			}
			tags, more, err := e.Service.ListTags(ctx, who, tc.r, tc.last, tc.n)
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
				return
			}
			if err != nil || !slices.Equal(tags, tc.want) || tags == nil || more != tc.more {
				t.Fatalf("ListTags = %#v, %v, %v; want %v, %v", tags, more, err, tc.want, tc.more)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	hidden := rt.AuthorizerFunc(func(ctx context.Context, req registry.AccessRequest) error {
		if strings.Contains(req.Resource, "/secret") {
			return registry.DeniedError(req, "test")
		}
		return registry.AccountAuthorizer{}.Authorize(ctx, req)
	})
	e := rt.New(t, registry.Options{Authorizer: hidden})
	for _, name := range []string{"a", "b", "secret1", "secret2", "secret3", "x", "y", "z"} {
		e.CreateRepository(t, rt.Account, name+"1")
	}
	e.CreateRepository(t, rt.OtherAccount, "theirs")
	visible := []string{"a1", "b1", "x1", "y1", "z1"}
	tests := []struct {
		name    string
		account string
		last    string
		n       int
		want    []string
		more    bool
		kind    error
	}{
		{name: "all visible", account: rt.Account, n: 1000, want: visible},
		{name: "page skips hidden", account: rt.Account, n: 3, want: []string{"a1", "b1", "x1"}, more: true},
		{name: "next page", account: rt.Account, last: "x1", n: 3, want: []string{"y1", "z1"}},
		{name: "page across hidden", account: rt.Account, last: "a1", n: 2, want: []string{"b1", "x1"}, more: true},
		{name: "n zero", account: rt.Account, n: 0, want: []string{}},
		{name: "other account hidden", account: rt.OtherAccount, n: 10, want: []string{}},
		{name: "n too large", account: rt.Account, n: 1001, kind: registry.ErrPaginationInvalid},
		{name: "n negative", account: rt.Account, n: -5, kind: registry.ErrPaginationInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			names, more, err := e.Service.Catalog(ctx, root, tc.account, tc.last, tc.n)
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
				return
			}
			if err != nil || !slices.Equal(names, tc.want) || names == nil || more != tc.more {
				t.Fatalf("Catalog = %#v, %v, %v; want %v, %v", names, more, err, tc.want, tc.more)
			}
		})
	}

	// Walking the pages with the returned cursor yields every visible name once.
	var got []string
	last := ""
	for {
		names, more, err := e.Service.Catalog(ctx, root, rt.Account, last, 1)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names...)
		if !more {
			break
		}
		last = names[len(names)-1]
	}
	if !slices.Equal(got, visible) {
		t.Fatalf("paged catalog = %v, want %v", got, visible)
	}
}

func TestGetManifestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	e.Push(t, root, repo, "v1", image)
	for _, tc := range []struct {
		ref  string
		kind error
	}{
		{"v2", registry.ErrManifestUnknown},
		{digest.FromString("x").String(), registry.ErrManifestUnknown},
		{"bad/tag", registry.ErrTagInvalid},
		{strings.Repeat("t", oci.MaxTagLength+1), registry.ErrTagInvalid},
		{"sha256:abc", registry.ErrDigestInvalid},
	} {
		_, err := e.Service.GetManifest(ctx, root, repo, tc.ref)
		if !errors.Is(err, tc.kind) {
			t.Errorf("GetManifest(%q) err = %v, want %v", tc.ref, err, tc.kind)
		}
	}
}
