package registry

import (
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

func TestWildcardMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, tag string
		want         bool
	}{
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"latest", "xlatest", false},
		{"*", "anything", true},
		{"v1.*", "v1.0", true},
		{"v1.*", "v1.", true},
		{"v1.*", "v10", false},
		{"*-rc", "1.0-rc", true},
		{"*-rc", "1.0-rc1", false},
		{"sha-*-x*", "sha-abc-xyz", true},
		{"sha-*-x*", "sha-abc-y", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYc-", false},
		{"**", "", true},
		{"x", "", false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.tag); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.tag, got, c.want)
		}
	}
}

func TestTagImmutability(t *testing.T) {
	t.Parallel()
	repo := func(mode string, filters ...string) metastore.Repository {
		return metastore.Repository{ImageTagMutability: mode, TagMutabilityExclusions: filters}
	}
	cases := []struct {
		repo metastore.Repository
		tag  string
		want bool
	}{
		{repo(Mutable), "v1", false},
		{repo(Immutable), "latest", true},
		{repo(ImmutableWithExclusion, "latest", "dev-*"), "latest", false},
		{repo(ImmutableWithExclusion, "latest", "dev-*"), "dev-42", false},
		{repo(ImmutableWithExclusion, "latest", "dev-*"), "v1.0", true},
		{repo(MutableWithExclusion, "v*.*"), "v1.0", true},
		{repo(MutableWithExclusion, "v*.*"), "latest", false},
	}
	for _, c := range cases {
		got := false
		if f := tagImmutability(c.repo); f != nil {
			got = f(c.tag)
		}
		if got != c.want {
			t.Errorf("%s %v: tag %q immutable = %v, want %v", c.repo.ImageTagMutability, c.repo.TagMutabilityExclusions, c.tag, got, c.want)
		}
	}
}

func TestCheckTagMutability(t *testing.T) {
	t.Parallel()
	ok := []struct {
		mode    string
		filters []string
	}{
		{"", nil}, {Mutable, nil}, {Immutable, nil},
		{ImmutableWithExclusion, []string{"latest"}},
		{MutableWithExclusion, []string{"v1.*", "sha-*", "a", "b", "c"}},
	}
	for _, c := range ok {
		if err := CheckTagMutability(c.mode, c.filters); err != nil {
			t.Errorf("%s %v: %v", c.mode, c.filters, err)
		}
	}
	bad := []struct {
		mode    string
		filters []string
	}{
		{Immutable, []string{"latest"}},                                // filters need an exclusion mode
		{ImmutableWithExclusion, nil},                                  // and an exclusion mode needs filters
		{MutableWithExclusion, []string{"a", "b", "c", "d", "e", "f"}}, // at most 5
		{MutableWithExclusion, []string{"bad/slash"}},
		{MutableWithExclusion, []string{""}},
		{"SOMETIMES", nil},
	}
	for _, c := range bad {
		if err := CheckTagMutability(c.mode, c.filters); err == nil {
			t.Errorf("%s %v accepted", c.mode, c.filters)
		}
	}
}
