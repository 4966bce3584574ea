package lifecycle

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// now is the evaluation instant of the table tests.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * float64(day))) }

type imgOpt func(*Image)

// img builds an image named name (its digest is the digest of the name),
// pushed pushedDays before now.
func img(name string, tags []string, pushedDays float64, opts ...imgOpt) Image {
	im := Image{Digest: dg(name), Tags: tags, PushedAt: daysAgo(pushedDays)}
	for _, o := range opts {
		o(&im)
	}
	return im
}

func dg(name string) digest.Digest { return digest.FromString(name) }

func pulled(days float64) imgOpt { return func(im *Image) { im.LastRecordedPullTime = daysAgo(days) } }

// archived puts the image in the archive class since days ago.
func archived(days float64) imgOpt {
	return func(im *Image) { im.StorageClass, im.LastArchivedAt = Archive, daysAgo(days) }
}

// restored marks the image restored from archive days ago (back in Standard).
func restored(days float64) imgOpt {
	return func(im *Image) { im.StorageClass, im.LastActivatedAt = Standard, daysAgo(days) }
}

// childOf lists the image in the named indexes.
func childOf(parents ...string) imgOpt {
	return func(im *Image) {
		for _, p := range parents {
			im.ReferencedBy = append(im.ReferencedBy, dg(p))
		}
	}
}

// refers makes the image a referrer of the named subject.
func refers(subject string) imgOpt { return func(im *Image) { im.Subject = dg(subject) } }

// rule renders one policy rule from the inside of its selection and action objects.
func rule(priority int, selection, action string) string {
	return fmt.Sprintf(`{"rulePriority":%d,"selection":{%s},"action":{%s}}`, priority, selection, action)
}

const (
	expire  = `"type":"expire"`
	archive = `"type":"transition","targetStorageClass":"archive"`
)

// policyText wraps rules into a policy, padded with spaces to the minimum length.
func policyText(rules ...string) string {
	text := `{"rules":[` + strings.Join(rules, ",") + `]}`
	if n := MinTextLength - len(text); n > 0 {
		text += strings.Repeat(" ", n)
	}
	return text
}

func mustParse(tb testing.TB, text string) *Policy {
	tb.Helper()
	p, err := Parse(text)
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, text)
	}
	return p
}

// outcomes names what Evaluate decided per image: "expire 2", "transition 1",
// "expire 1 <- S" (following subject S), "held expire 1". Kept images are absent.
func outcomes(images []Image, res Result) map[string]string {
	names := map[digest.Digest]string{}
	for _, im := range images {
		names[im.Digest] = nameOf(im)
	}
	out := map[string]string{}
	put := func(prefix string, d Decision) {
		s := fmt.Sprintf("%s%s %d", prefix, strings.ToLower(string(d.Action.Type)), d.RulePriority)
		if d.Subject != "" {
			s += " <- " + names[d.Subject]
		}
		name := names[d.Digest]
		if _, dup := out[name]; dup {
			out[name] += " AND " + s // never expected: one decision per image
			return
		}
		out[name] = s
	}
	for _, d := range res.Decisions {
		put("", d)
	}
	for _, d := range res.Held {
		put("held ", d)
	}
	return out
}

// testNames maps digests back to the names the tests gave them.
var testNames = knownNames()

func nameOf(im Image) string {
	if n, ok := testNames[im.Digest]; ok {
		return n
	}
	return string(im.Digest)
}

// knownNames lists the names the tests use: letters, letter+digit and a few words.
func knownNames() map[digest.Digest]string {
	names := map[digest.Digest]string{}
	for c := 'A'; c <= 'Z'; c++ {
		names[dg(string(c))] = string(c)
		for d := 0; d <= 9; d++ {
			n := fmt.Sprintf("%c%d", c, d)
			names[dg(n)] = n
		}
	}
	for _, n := range []string{"index", "index2", "sig", "sbom", "sigsig", "child1", "child2", "orphan"} {
		names[dg(n)] = n
	}
	return names
}

func diffOutcomes(t *testing.T, got, want map[string]string) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	keys := slices.Sorted(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range slices.Compact(keys) {
		if got[k] != want[k] {
			fmt.Fprintf(&b, "\n  %s: got %q, want %q", k, got[k], want[k])
		}
	}
	t.Errorf("outcomes differ (\"\" = kept):%s", b.String())
}
