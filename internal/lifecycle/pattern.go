package lifecycle

import "strings"

// tagFilter is a rule's compiled tag selection.
type tagFilter struct {
	status   TagStatus
	prefixes []string
	patterns []pattern
}

func compileFilter(s Selection) tagFilter {
	f := tagFilter{status: s.TagStatus, prefixes: s.TagPrefixList}
	for _, p := range s.TagPatternList {
		f.patterns = append(f.patterns, compilePattern(p))
	}
	return f
}

// selects reports whether an image with these tags passes the filter:
// untagged wants no tag, any takes all, and tagged wants every pattern
// (or prefix) of the list matched by at least one tag.
func (f *tagFilter) selects(tags []string) bool {
	switch f.status {
	case TagStatusAny:
		return true
	case TagStatusUntagged:
		return len(tags) == 0
	}
	if len(tags) == 0 {
		return false
	}
	for _, prefix := range f.prefixes {
		if !hasTagWithPrefix(tags, prefix) {
			return false
		}
	}
	for i := range f.patterns {
		if !f.patterns[i].matchesAny(tags) {
			return false
		}
	}
	return true
}

func hasTagWithPrefix(tags []string, prefix string) bool {
	for _, t := range tags {
		if strings.HasPrefix(t, prefix) {
			return true
		}
	}
	return false
}

// pattern is a tag pattern split at its wildcards: '*' matches any run of
// characters, including none; everything else matches itself.
type pattern struct {
	parts []string
}

func compilePattern(s string) pattern { return pattern{parts: strings.Split(s, "*")} }

func (p *pattern) matchesAny(tags []string) bool {
	for _, t := range tags {
		if p.match(t) {
			return true
		}
	}
	return false
}

// match anchors the first and last literal parts and finds the middle ones
// leftmost-first, which is exact for patterns whose only metacharacter is
// '*': taking each middle part as early as possible leaves the most room
// for the rest.
func (p *pattern) match(tag string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return tag == parts[0]
	}
	if !strings.HasPrefix(tag, parts[0]) {
		return false
	}
	rest := tag[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		j := strings.Index(rest, mid)
		if j < 0 {
			return false
		}
		rest = rest[j+len(mid):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}
