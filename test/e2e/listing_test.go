package e2e

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme"
	"github.com/regclient/regclient/types/ref"
)

// regClient is a regclient talking to s over plain HTTP as root.
func (s *server) regClient() *regclient.RegClient {
	return regclient.New(
		regclient.WithConfigHost(config.Host{Name: s.host, TLS: config.TLSDisabled, User: rootKeyID, Pass: rootSecret}),
		regclient.WithRetryLimit(1),
	)
}

func mustRef(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.New(s)
	if err != nil {
		t.Fatalf("ref %q: %v", s, err)
	}
	return r
}

func TestTagsPagination(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.repo(t, "list/tags")
	img := randomImage(t, 128, 1)
	all := []string{"latest", "v1", "v1.0", "v1.10", "v1.2", "v2", "A", "Z9", "_under", "a-b", "a.b", "a_b"}
	for i := range 12 {
		all = append(all, fmt.Sprintf("t%02d", i))
	}
	if err := remote.Write(repo.Tag(all[0]), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	for _, tag := range all[1:] {
		if err := remote.Tag(repo.Tag(tag), img, remoteOpts(ctx)...); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
	slices.Sort(all) // the distribution spec orders tags lexically

	got, err := remote.List(repo, remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, all) {
		t.Errorf("tags = %v\nwant %v", got, all)
	}

	// go-containerregistry follows the Link header from page to page.
	for _, n := range []int{1, 5, 24, 1000} {
		pages := pagesByLink(t, ctx, s, repo.RepositoryStr(), n)
		if flat := slices.Concat(pages...); !slices.Equal(flat, all) {
			t.Errorf("n=%d: pages %v\nconcatenate to %v\nwant %v", n, pages, flat, all)
		}
		if want := (len(all) + n - 1) / n; len(pages) != want {
			t.Errorf("n=%d: %d pages, want %d", n, len(pages), want)
		}
	}

	// regclient asks for one page at a time with explicit n and last.
	rc := s.regClient()
	base := mustRef(t, s.host+"/list/tags")
	for _, n := range []int{4, 5} {
		var flat []string
		last := ""
		for page := 0; ; page++ {
			tl, err := rc.TagList(ctx, base, scheme.WithTagLimit(n), scheme.WithTagLast(last))
			if err != nil {
				t.Fatalf("n=%d last=%q: %v", n, last, err)
			}
			tags, _ := tl.GetTags()
			wantTags := all[min(page*n, len(all)):min(page*n+n, len(all))]
			if !slices.Equal(tags, wantTags) {
				t.Fatalf("n=%d last=%q: tags %v, want %v", n, last, tags, wantTags)
			}
			h, _ := tl.RawHeaders()
			checkNextLink(t, h.Get("Link"), "/v2/list/tags/tags/list", n, lastOf(tags), page*n+n < len(all))
			flat = append(flat, tags...)
			if len(tags) < n || page*n+n >= len(all) {
				break
			}
			last = tags[len(tags)-1]
		}
		if !slices.Equal(flat, all) {
			t.Errorf("n=%d: explicit pages concatenate to %v, want %v", n, flat, all)
		}
	}

	// last need not be a tag that exists: the page starts after it.
	tl, err := rc.TagList(ctx, base, scheme.WithTagLimit(3), scheme.WithTagLast("v1.1"))
	if err != nil {
		t.Fatal(err)
	}
	i, _ := slices.BinarySearch(all, "v1.1")
	if tags, _ := tl.GetTags(); !slices.Equal(tags, all[i:i+3]) {
		t.Errorf("n=3 last=v1.1: tags %v, want %v", tags, all[i:i+3])
	}
	// After the last tag there is nothing, and no Link.
	tl, err = rc.TagList(ctx, base, scheme.WithTagLimit(3), scheme.WithTagLast(all[len(all)-1]))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := tl.RawHeaders()
	if tags, _ := tl.GetTags(); len(tags) != 0 || h.Get("Link") != "" {
		t.Errorf("page after the last tag: tags %v, Link %q; want none", tags, h.Get("Link"))
	}
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// pagesByLink lists repository's tags n at a time with go-containerregistry's
// Lister, which finds each next page in the previous page's Link header.
func pagesByLink(t *testing.T, ctx context.Context, s *server, repository string, n int) [][]string {
	t.Helper()
	p, err := remote.NewPuller(remoteOpts(ctx, remote.WithPageSize(n))...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Lister(ctx, s.repo(t, repository))
	if err != nil {
		t.Fatalf("lister: %v", err)
	}
	var pages [][]string
	for l.HasNext() {
		page, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("n=%d: next page: %v", n, err)
		}
		if len(page.Tags) == 0 || len(page.Tags) > n {
			t.Fatalf("n=%d: page of %d tags", n, len(page.Tags))
		}
		pages = append(pages, page.Tags)
		if len(pages) > 100 {
			t.Fatalf("n=%d: pagination does not end", n)
		}
	}
	return pages
}

// checkNextLink checks a Link header: present exactly when more follows,
// and then pointing at path with n and last.
func checkNextLink(t testing.TB, link, path string, n int, last string, more bool) {
	t.Helper()
	if !more {
		if link != "" {
			t.Errorf("last page has Link %q, want none", link)
		}
		return
	}
	target, ok := strings.CutPrefix(link, "<")
	target, rest, ok2 := strings.Cut(target, ">")
	if !ok || !ok2 || !strings.Contains(rest, `rel="next"`) {
		t.Errorf("Link %q is not <url>; rel=\"next\"", link)
		return
	}
	u, err := url.Parse(target)
	if err != nil || u.Path != path || u.Query().Get("n") != fmt.Sprint(n) || u.Query().Get("last") != last {
		t.Errorf("Link %q: want path %s with n=%d and last=%s", link, path, n, last)
	}
}

func TestCatalogPagination(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	names := []string{"ab", "cat/a", "cat/b/c", "cat/b-c", "cat/b.c", "cat/b_c", "cat0", "cat/z",
		"zz/top", "m/n/o/p", "x1", "x10", "x2"}
	layer, err := random.Layer(64, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		// Uploading a blob creates the repository (create-on-push).
		if err := remote.WriteLayer(s.repo(t, n), layer, remoteOpts(ctx)...); err != nil {
			t.Fatalf("push a blob to %s: %v", n, err)
		}
	}
	slices.Sort(names)
	reg := s.registry(t)

	got, err := remote.Catalog(ctx, reg, remoteOpts(ctx, remote.WithPageSize(4))...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, names) {
		t.Errorf("catalog (n=4, following Link) = %v\nwant %v", got, names)
	}

	for _, n := range []int{1, 5, 13} {
		var flat []string
		last := ""
		for page := 0; page <= len(names); page++ {
			repos, err := remote.CatalogPage(reg, last, n, remoteOpts(ctx)...)
			if err != nil {
				t.Fatalf("catalog n=%d last=%q: %v", n, last, err)
			}
			if len(repos) > n {
				t.Fatalf("catalog n=%d: page of %d", n, len(repos))
			}
			if len(repos) == 0 {
				break
			}
			flat = append(flat, repos...)
			last = repos[len(repos)-1]
		}
		if !slices.Equal(flat, names) {
			t.Errorf("catalog n=%d: pages concatenate to %v\nwant %v", n, flat, names)
		}
	}

	p, err := remote.NewPuller(remoteOpts(ctx, remote.WithPageSize(5))...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Catalogger(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	var pages [][]string
	for c.HasNext() && len(pages) < 20 {
		page, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, page.Repos)
	}
	if len(pages) != 3 || !slices.Equal(slices.Concat(pages...), names) {
		t.Errorf("catalog pages by Link with n=5 = %v, want 3 pages of %v", pages, names)
	}
}
