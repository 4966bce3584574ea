package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx": the test ages images in the database

	"github.com/berth-registry/berth/internal/testenv"
)

// lifecycleTestPolicy keeps the newest build, expires untagged images
// older than a week and archives what nobody pulled for 30 days.
const lifecycleTestPolicy = `{"rules":[
 {"rulePriority":1,"description":"keep the newest build","selection":{"tagStatus":"tagged","tagPrefixList":["build"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"expire untagged images after a week","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
 {"rulePriority":3,"description":"archive images not pulled for 30 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}]}`

// TestECRLifecyclePolicy: with the AWS SDK, preview a policy, put it, and
// see the run it triggers expire and archive exactly what the preview
// showed, with DELETE and UPDATE_STORAGE_CLASS events delivered to a
// webhook and lastEvaluatedAt set. Images are aged in the PostgreSQL
// database, the store the node runs on.
func TestECRLifecyclePolicy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	dsn := testenv.PostgresDatabase(t)
	hook := newHookReceiver(t, http.StatusNoContent)
	s := startBerth(t, withFlags("--database", dsn))
	c := s.ecr()
	const repo = "life/app"
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	sink := exec.Command(berthBin, "admin", "events", "sink", "create", "--name", "lifecycle", "--type", "webhook",
		"--url", hook.srv.URL, "--secret", hookSecret, "--data-dir", s.dataDir, "--database", dsn)
	sink.Env = append(os.Environ(), testSecretsKeyEnv) // it seals the secret with the nodes' key
	out, err := sink.CombinedOutput()
	if err != nil {
		t.Fatalf("sink create: %v\n%s", err, out)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// push pushes a random image (untagged when tag is "") pushed daysAgo.
	push := func(tag string, daysAgo int) string {
		t.Helper()
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref := s.repo(t, repo).Digest(d.String())
		if tag != "" {
			if err := remote.Write(s.repo(t, repo).Tag(tag), img, remoteOpts(ctx)...); err != nil {
				t.Fatal(err)
			}
		} else if err := remote.Write(ref, img, remoteOpts(ctx)...); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Duration(daysAgo) * 24 * time.Hour).UnixNano()
		if _, err := db.ExecContext(ctx, "UPDATE manifests SET pushed_at = $1 WHERE digest = $2", at, d.String()); err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	build1, build2, build3 := push("build-1", 3), push("build-2", 2), push("build-3", 1)
	oldUntagged, newUntagged := push("", 10), push("", 1)
	release1, release2 := push("release-1", 60), push("release-2", 5)

	// Preview the text before putting it.
	start, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo),
		LifecyclePolicyText: aws.String(lifecycleTestPolicy)})
	if err != nil || start.Status != types.LifecyclePolicyPreviewStatusInProgress {
		t.Fatalf("StartLifecyclePolicyPreview = %+v, %v", start, err)
	}
	var preview *ecr.GetLifecyclePolicyPreviewOutput
	waitUntil(t, 20*time.Second, "the preview to complete", func() bool {
		preview, err = c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
		if err != nil {
			t.Fatalf("GetLifecyclePolicyPreview: %v", err)
		}
		return preview.Status == types.LifecyclePolicyPreviewStatusComplete
	})
	type result struct {
		digest, action string
		priority       int32
	}
	var got []result
	for _, r := range preview.PreviewResults {
		got = append(got, result{aws.ToString(r.ImageDigest), string(r.Action.Type), aws.ToInt32(r.AppliedRulePriority)})
		if r.StorageClass != types.LifecyclePolicyStorageClassStandard || r.ImagePushedAt == nil {
			t.Errorf("preview result %+v: want STANDARD and imagePushedAt", r)
		}
	}
	want := []result{{build2, "EXPIRE", 1}, {build1, "EXPIRE", 1}, {oldUntagged, "EXPIRE", 2}, {release1, "TRANSITION", 3}}
	if !slices.Equal(got, want) {
		t.Errorf("preview results %+v, want %+v", got, want)
	}
	if sum := preview.Summary; sum == nil || aws.ToInt32(sum.ExpiringImageTotalCount) != 3 || len(sum.TransitioningImageTotalCounts) != 1 ||
		aws.ToInt32(sum.TransitioningImageTotalCounts[0].ImageTotalCount) != 1 ||
		sum.TransitioningImageTotalCounts[0].TargetStorageClass != types.LifecyclePolicyTargetStorageClassArchive {
		t.Errorf("preview summary %+v", preview.Summary)
	}
	checkPreviewWithCLI(t, ctx, s, repo, []string{build2, build1, oldUntagged, release1})

	// Put the policy: the run it triggers acts as previewed.
	putAt := time.Now().Add(-time.Second)
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo),
		LifecyclePolicyText: aws.String(lifecycleTestPolicy)}); err != nil {
		t.Fatal(err)
	}
	var policy *ecr.GetLifecyclePolicyOutput
	waitUntil(t, 30*time.Second, "the lifecycle run", func() bool {
		policy, err = c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
		if err != nil {
			t.Fatalf("GetLifecyclePolicy: %v", err)
		}
		return policy.LastEvaluatedAt != nil && policy.LastEvaluatedAt.After(putAt)
	})
	if aws.ToString(policy.LifecyclePolicyText) != lifecycleTestPolicy {
		t.Errorf("GetLifecyclePolicy text %q", aws.ToString(policy.LifecyclePolicyText))
	}
	active := describeDigests(t, ctx, c, repo, types.ImageStatusFilterActive)
	archived := describeDigests(t, ctx, c, repo, types.ImageStatusFilterArchived)
	if w := sorted(build3, newUntagged, release2); !slices.Equal(active, w) {
		t.Errorf("ACTIVE images %v, want %v", active, w)
	}
	if !slices.Equal(archived, []string{release1}) {
		t.Errorf("ARCHIVED images %v, want [%s]", archived, release1)
	}

	// The webhook receives the DELETE of each expired image (one per tag)
	// and the archive's UPDATE_STORAGE_CLASS.
	wantEvents := sorted("DELETE "+build1+" build-1", "DELETE "+build2+" build-2", "DELETE "+oldUntagged+" ",
		"UPDATE_STORAGE_CLASS "+release1+" ")
	var seen []string
	waitUntil(t, 20*time.Second, "the lifecycle events", func() bool {
		seen = nil
		for _, b := range hook.bodies() {
			var ev struct {
				Detail struct {
					Action string `json:"action-type"`
					Digest string `json:"image-digest"`
					Tag    string `json:"image-tag"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(b.body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Detail.Action != "PUSH" {
				seen = append(seen, ev.Detail.Action+" "+ev.Detail.Digest+" "+ev.Detail.Tag)
			}
		}
		slices.Sort(seen)
		return len(seen) >= len(wantEvents)
	})
	if !slices.Equal(seen, wantEvents) {
		t.Errorf("events %v, want %v", seen, wantEvents)
	}

	// The run's audit records: CloudTrail PolicyExecutionEvents naming each
	// image acted on and the rule that did it (spec §5.5).
	var acted []string
	for _, r := range exportAudit(t, auditStorage{flags: []string{"--database", dsn, "--data-dir", s.dataDir}}) {
		if r.EventName != "PolicyExecutionEvent" {
			continue
		}
		if r.EventType != "AwsServiceEvent" || r.EventSource != "ecr.amazonaws.com" {
			t.Errorf("PolicyExecutionEvent of type %q from %q", r.EventType, r.EventSource)
		}
		var d struct {
			RepositoryName string `json:"repositoryName"`
			Actions        []struct {
				Image struct {
					Digest string `json:"digest"`
				} `json:"lifecycleEventImage"`
				RulePriority int `json:"rulePriority"`
			} `json:"lifecycleEventImageActions"`
		}
		if err := json.Unmarshal(r.ServiceEventDetails, &d); err != nil {
			t.Fatalf("serviceEventDetails %s: %v", r.ServiceEventDetails, err)
		}
		if d.RepositoryName != repo {
			t.Errorf("PolicyExecutionEvent for repository %q", d.RepositoryName)
		}
		for _, a := range d.Actions {
			if a.RulePriority < 1 {
				t.Errorf("action on %s without its rule priority", a.Image.Digest)
			}
			acted = append(acted, a.Image.Digest)
		}
	}
	slices.Sort(acted)
	if w := sorted(build1, build2, oldUntagged, release1); !slices.Equal(acted, w) {
		t.Errorf("audited lifecycle actions on %v, want %v", acted, w)
	}

	del, err := c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	if err != nil || aws.ToString(del.LifecyclePolicyText) != lifecycleTestPolicy || del.LastEvaluatedAt == nil {
		t.Errorf("DeleteLifecyclePolicy = %+v, %v", del, err)
	}
	var nf *types.LifecyclePolicyNotFoundException
	if _, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)}); !errors.As(err, &nf) {
		t.Errorf("GetLifecyclePolicy after delete: %v, want LifecyclePolicyNotFoundException", err)
	}
}

func sorted(v ...string) []string {
	slices.Sort(v)
	return v
}

// checkPreviewWithCLI reads the preview with the AWS CLI, which pages it
// itself (maxResults 1 forces a nextToken per result).
func checkPreviewWithCLI(t *testing.T, ctx context.Context, s *server, repo string, want []string) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the AWS CLI (aws) is required for this test and is not on PATH: %v", err)
	}
	cmd := exec.CommandContext(ctx, "aws", "ecr", "get-lifecycle-policy-preview", "--repository-name", repo,
		"--endpoint-url", s.url(""), "--region", ecrRegion, "--page-size", "1", "--output", "json")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+rootKeyID, "AWS_SECRET_ACCESS_KEY="+rootSecret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws ecr get-lifecycle-policy-preview: %v\n%s", err, out)
	}
	var res struct {
		Status         string `json:"status"`
		PreviewResults []struct {
			ImageDigest string `json:"imageDigest"`
		} `json:"previewResults"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("aws output %s: %v", out, err)
	}
	var got []string
	for _, r := range res.PreviewResults {
		got = append(got, r.ImageDigest)
	}
	if res.Status != "COMPLETE" || !slices.Equal(got, want) {
		t.Errorf("aws ecr get-lifecycle-policy-preview: status %s, results %v, want COMPLETE and %v\n%s", res.Status, got,
			want, strings.TrimSpace(string(out)))
	}
}
