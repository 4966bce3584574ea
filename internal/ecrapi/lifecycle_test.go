package ecrapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/registry/registrytest"
	"github.com/berth-registry/berth/internal/worker/lifecyclerun"
)

// lifecycleRule renders one rule; selection and action are JSON bodies.
func lifecycleRule(priority int, selection, action string) string {
	return fmt.Sprintf(`{"rulePriority":%d,"description":"rule %d of a lifecycle test policy","selection":{%s},"action":{%s}}`,
		priority, priority, selection, action)
}

func lifecyclePolicy(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

// lifecycleScenarios drive the lifecycle operations through success and
// every modeled failure, with previews and a run computed by the same
// runner the background jobs use.
func lifecycleScenarios(e *conformanceEnv) {
	t, env := e.t, e.env
	who, ref := registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "life/app")
	e.call("CreateRepository", obj{"repositoryName": "life/app"})
	repo := obj{"repositoryName": "life/app"}
	with := func(kv ...any) obj {
		o := obj{"repositoryName": "life/app"}
		for i := 0; i < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	push := func(name, tag string) digest.Digest {
		_, d := env.Push(t, who, ref, tag, registrytest.Image{Config: []byte(`{"n":"` + name + `"}`), Layers: [][]byte{[]byte(name)}})
		env.Clock.Advance(24 * time.Hour)
		return d
	}
	u1, u2, u3 := push("u1", ""), push("u2", ""), push("u3", "")
	b1, b2 := push("b1", "build-1"), push("b2", "build-2")
	rel := push("rel", "release-1")
	policy := lifecyclePolicy(
		lifecycleRule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`, `"type":"expire"`),
		lifecycleRule(2, `"tagStatus":"tagged","tagPrefixList":["build"],"countType":"imageCountMoreThan","countNumber":1`, `"type":"expire"`))
	runner, err := lifecyclerun.New(lifecyclerun.Options{Store: env.Meta, Clock: env.Clock.Now, Region: registrytest.Region})
	if err != nil {
		t.Fatal(err)
	}

	e.fail("GetLifecyclePolicy", repo, "LifecyclePolicyNotFoundException")
	e.fail("DeleteLifecyclePolicy", repo, "LifecyclePolicyNotFoundException")
	e.fail("StartLifecyclePolicyPreview", repo, "LifecyclePolicyNotFoundException")
	e.fail("GetLifecyclePolicyPreview", repo, "LifecyclePolicyPreviewNotFoundException")
	for _, op := range []string{"PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy", "StartLifecyclePolicyPreview", "GetLifecyclePolicyPreview"} {
		e.fail(op, obj{"repositoryName": "life/none", "lifecyclePolicyText": policy}, "RepositoryNotFoundException")
	}
	e.fail("PutLifecyclePolicy", repo, "InvalidParameterException")
	e.fail("PutLifecyclePolicy", with("lifecyclePolicyText", "{}"), "InvalidParameterException")

	// A preview of a text, before any policy is put.
	start := e.call("StartLifecyclePolicyPreview", with("lifecyclePolicyText", policy))
	if start.str("status") != "IN_PROGRESS" || start.str("lifecyclePolicyText") != policy {
		t.Errorf("StartLifecyclePolicyPreview = %v, want IN_PROGRESS and the text", start.body)
	}
	e.fail("StartLifecyclePolicyPreview", repo, "LifecyclePolicyNotFoundException")
	e.fail("StartLifecyclePolicyPreview", with("lifecyclePolicyText", policy), "LifecyclePolicyPreviewInProgressException")
	if got := e.call("GetLifecyclePolicyPreview", repo); got.str("status") != "IN_PROGRESS" || got.body["summary"] != nil {
		t.Errorf("GetLifecyclePolicyPreview before the job ran = %v", got.body)
	}
	if err := runner.RunPreviews(context.Background()); err != nil {
		t.Fatalf("RunPreviews: %v", err)
	}
	got := e.call("GetLifecyclePolicyPreview", repo)
	if got.str("status") != "COMPLETE" {
		t.Fatalf("GetLifecyclePolicyPreview after the job = %v", got.body)
	}
	wantExpired := []digest.Digest{u2, u1, b1} // rule 1 newest first, then rule 2
	if ds := previewDigests(got); !slices.Equal(ds, wantExpired) {
		t.Errorf("preview results %v, want %v", ds, wantExpired)
	}
	if s := got.body["summary"].(map[string]any); fmt.Sprint(s["expiringImageTotalCount"]) != "3" || s["transitioningImageTotalCounts"] != nil {
		t.Errorf("summary %v, want 3 expiring and no transitions", s)
	}
	first := got.body["previewResults"].([]any)[2].(map[string]any)
	if fmt.Sprint(first["appliedRulePriority"]) != "2" || first["storageClass"] != "STANDARD" ||
		first["action"].(map[string]any)["type"] != "EXPIRE" || fmt.Sprint(first["imageTags"]) != "[build-1]" || first["imagePushedAt"] == nil {
		t.Errorf("result for build-1 = %v", first)
	}
	// Pages of one, then filters.
	var paged []digest.Digest
	page := e.call("GetLifecyclePolicyPreview", with("maxResults", 1))
	for i := 0; ; i++ {
		paged = append(paged, previewDigests(page)...)
		tok := page.str("nextToken")
		if tok == "" || i > 5 {
			break
		}
		page = e.call("GetLifecyclePolicyPreview", with("maxResults", 1, "nextToken", tok))
	}
	if !slices.Equal(paged, wantExpired) {
		t.Errorf("paged results %v, want %v", paged, wantExpired)
	}
	tok := e.call("GetLifecyclePolicyPreview", with("maxResults", 1)).str("nextToken")
	e.fail("GetLifecyclePolicyPreview", with("maxResults", 1, "nextToken", tok, "filter", obj{"tagStatus": "TAGGED"}), "InvalidParameterException")
	e.fail("GetLifecyclePolicyPreview", with("nextToken", "garbage"), "InvalidParameterException")
	e.fail("GetLifecyclePolicyPreview", with("maxResults", 0), "InvalidParameterException")
	e.fail("GetLifecyclePolicyPreview", with("maxResults", 101), "InvalidParameterException")
	e.fail("GetLifecyclePolicyPreview", with("filter", obj{"tagStatus": "tagged"}), "InvalidParameterException")
	if ds := previewDigests(e.call("GetLifecyclePolicyPreview", with("filter", obj{"tagStatus": "TAGGED"}))); !slices.Equal(ds, []digest.Digest{b1}) {
		t.Errorf("TAGGED results %v, want [%s]", ds, b1)
	}
	if ds := previewDigests(e.call("GetLifecyclePolicyPreview", with("filter", obj{"tagStatus": "UNTAGGED"}))); !slices.Equal(ds, []digest.Digest{u2, u1}) {
		t.Errorf("UNTAGGED results %v", ds)
	}
	ids := []obj{{"imageTag": "build-1"}, {"imageDigest": u1.String()}, {"imageTag": "release-1"}, {"imageTag": "gone"}}
	if ds := previewDigests(e.call("GetLifecyclePolicyPreview", with("imageIds", ids))); !slices.Equal(ds, []digest.Digest{u1, b1}) {
		t.Errorf("results by imageIds %v, want [%s %s]", ds, u1, b1)
	}
	e.fail("GetLifecyclePolicyPreview", with("imageIds", []obj{{"imageDigest": "sha256:short"}}), "InvalidParameterException")

	// Put the policy: nothing ran yet, then one run acts on what the preview showed.
	put := e.call("PutLifecyclePolicy", with("lifecyclePolicyText", policy))
	if put.str("lifecyclePolicyText") != policy || put.str("registryId") != registrytest.Account {
		t.Errorf("PutLifecyclePolicy = %v", put.body)
	}
	if g := e.call("GetLifecyclePolicy", repo); fmt.Sprint(g.body["lastEvaluatedAt"]) != "0.000" || g.str("lifecyclePolicyText") != policy {
		t.Errorf("GetLifecyclePolicy before a run = %v, want lastEvaluatedAt epoch 0", g.body)
	}
	if err := runner.RunPolicies(context.Background()); err != nil {
		t.Fatalf("RunPolicies: %v", err)
	}
	left := e.call("DescribeImages", repo)
	var remaining []digest.Digest
	for _, d := range left.body["imageDetails"].([]any) {
		remaining = append(remaining, digest.Digest(d.(map[string]any)["imageDigest"].(string)))
	}
	slices.Sort(remaining)
	want := slices.Sorted(slices.Values([]digest.Digest{u3, b2, rel}))
	if !slices.Equal(remaining, want) {
		t.Errorf("images after the run %v, want %v", remaining, want)
	}
	evaluated := e.call("GetLifecyclePolicy", repo)
	if fmt.Sprint(evaluated.body["lastEvaluatedAt"]) != fmt.Sprintf("%.3f", float64(env.Clock.Now().UnixMilli())/1000) {
		t.Errorf("lastEvaluatedAt %v, want the run's time %v", evaluated.body["lastEvaluatedAt"], env.Clock.Now())
	}

	// A preview of the stored policy now finds nothing more to do.
	e.call("StartLifecyclePolicyPreview", repo)
	if err := runner.RunPreviews(context.Background()); err != nil {
		t.Fatalf("RunPreviews: %v", err)
	}
	if again := e.call("GetLifecyclePolicyPreview", repo); len(previewDigests(again)) != 0 || again.str("lifecyclePolicyText") != policy {
		t.Errorf("preview after the run = %v, want no results", again.body)
	}
	del := e.call("DeleteLifecyclePolicy", repo)
	if del.str("lifecyclePolicyText") != policy || del.body["lastEvaluatedAt"] == nil {
		t.Errorf("DeleteLifecyclePolicy = %v, want the deleted policy", del.body)
	}
	e.fail("GetLifecyclePolicy", repo, "LifecyclePolicyNotFoundException")
}

func previewDigests(a answer) []digest.Digest {
	var out []digest.Digest
	rs, _ := a.body["previewResults"].([]any)
	for _, r := range rs {
		out = append(out, digest.Digest(r.(map[string]any)["imageDigest"].(string)))
	}
	return out
}

// TestLifecyclePolicyValidation sends a policy breaking each rule of spec
// §5.2 to PutLifecyclePolicy and StartLifecyclePolicyPreview: each answers
// InvalidParameterException with ECR's message shape and the parser's
// detail.
func TestLifecyclePolicyValidation(t *testing.T) {
	t.Parallel()
	e := newConformanceEnv(t)
	e.call("CreateRepository", obj{"repositoryName": "life/valid"})
	const (
		untaggedCount = `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`
		expire        = `"type":"expire"`
		archive       = `"type":"transition","targetStorageClass":"archive"`
	)
	many := make([]string, 51)
	for i := range many {
		many[i] = lifecycleRule(i+1, fmt.Sprintf(`"tagStatus":"tagged","tagPrefixList":["p%d"],"countType":"imageCountMoreThan","countNumber":1`, i), expire)
	}
	cases := []struct {
		rule, text, want string
	}{
		{"1 rulePriority required", `{"rules":[{"description":"no priority in this rule, which is padded to length","selection":{` + untaggedCount + `},"action":{` + expire + `}}]}`, "rulePriority"},
		{"1 tagStatus required", lifecyclePolicy(lifecycleRule(1, `"countType":"imageCountMoreThan","countNumber":1`, expire)), "tagStatus"},
		{"1 countType required", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","countNumber":1`, expire)), "countType"},
		{"1 countNumber required", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan"`, expire)), "countNumber"},
		{"1 action.type required", lifecyclePolicy(lifecycleRule(1, untaggedCount, ``)), "type"},
		{"2 unique rulePriority", lifecyclePolicy(lifecycleRule(1, untaggedCount, expire),
			lifecycleRule(1, `"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1`, expire)), "rulePriority"},
		{"2 at most 50 rules", lifecyclePolicy(many...), "50"},
		{"2 at most 30,720 characters", lifecyclePolicy(lifecycleRule(1, untaggedCount, expire)) + strings.Repeat(" ", 30720), "30720"},
		{"3 tagged needs a list", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1`, expire)), "tagPrefixList or tagPatternList"},
		{"3 not both lists", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],"countType":"imageCountMoreThan","countNumber":1`, expire)), "tag"},
		{"3 untagged takes no list", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1`, expire)), "tagPrefixList"},
		{"4 at most 4 wildcards", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1`, expire)), "tagPatternList"},
		{"5 countUnit required with since*", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1`, expire)), "countUnit"},
		{"5 no countUnit with imageCountMoreThan", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1`, expire)), "countUnit"},
		{"6 countNumber positive", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0`, expire)), "countNumber"},
		{"7 any rule last", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5`, expire),
			lifecycleRule(2, untaggedCount, expire)), "any"},
		{"8 archive class needs sinceImageTransitioned", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","storageClass":"archive","countType":"imageCountMoreThan","countNumber":5`, expire)), "storageClass"},
		{"8 sinceImageTransitioned needs archive class", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`, expire)), "storageClass"},
		{"9 sinceImagePulled only transitions", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, expire)), "sinceImagePulled"},
		{"10 sinceImageTransitioned only expires", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100`, archive)), "sinceImageTransitioned"},
		{"11 transition needs targetStorageClass", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, `"type":"transition"`)), "targetStorageClass"},
		{"12 archived at least 90 days", lifecyclePolicy(lifecycleRule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":30`, expire)), "90"},
		{"13 one untagged rule per class", lifecyclePolicy(lifecycleRule(1, untaggedCount, expire), lifecycleRule(2, untaggedCount, expire)), "untagged"},
		{"13 unique tag filters per class", lifecyclePolicy(
			lifecycleRule(1, `"tagStatus":"tagged","tagPrefixList":["a","b"],"countType":"imageCountMoreThan","countNumber":1`, expire),
			lifecycleRule(2, `"tagStatus":"tagged","tagPrefixList":["b","a"],"countType":"imageCountMoreThan","countNumber":2`, expire)), "tagPrefixList"},
		{"14 no null", lifecyclePolicy(lifecycleRule(1, untaggedCount, `"type":"expire","targetStorageClass":null`)), "null"},
		{"text shorter than 100", `{"rules":[]}`, "greater than or equal to 100"},
		{"not JSON", strings.Repeat("x", 120), ""},
	}
	for _, c := range cases {
		for _, op := range []string{"PutLifecyclePolicy", "StartLifecyclePolicyPreview"} {
			a := e.fail(op, obj{"repositoryName": "life/valid", "lifecyclePolicyText": c.text}, "InvalidParameterException")
			msg, _ := a.body["message"].(string)
			if !strings.HasPrefix(msg, "Invalid parameter at '") || !strings.Contains(msg, c.want) {
				t.Errorf("rule %s, %s: message %q, want ECR's shape naming %q", c.rule, op, msg, c.want)
			}
		}
	}
	e.fail("GetLifecyclePolicy", obj{"repositoryName": "life/valid"}, "LifecyclePolicyNotFoundException")
	e.fail("GetLifecyclePolicyPreview", obj{"repositoryName": "life/valid"}, "LifecyclePolicyPreviewNotFoundException")
}
