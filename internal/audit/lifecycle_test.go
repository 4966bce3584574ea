package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/lifecycle"
)

const policyText = `{"rules":[{"rulePriority":1,"description":"keep 2","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}`

// execution makes a run that expired n images, the first one with 150 tags.
func execution(n int) lifecycle.Execution {
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	e := lifecycle.Execution{AccountID: "123456789012", Region: "us-east-1", RepositoryName: "web",
		PolicyText: policyText, PolicyID: "pol-1", PolicyVersion: 3, EvaluatedAt: at}
	for i := 0; i < n; i++ {
		a := lifecycle.ExecutedAction{Digest: digest.FromString(fmt.Sprint(i)), PushedAt: at.Add(-time.Duration(i+1) * time.Hour),
			Action: lifecycle.Action{Type: lifecycle.Expire}, RulePriority: 1}
		if i == 0 {
			for j := 0; j < 150; j++ {
				a.Tags = append(a.Tags, fmt.Sprintf("t%d", j))
			}
		}
		e.Actions = append(e.Actions, a)
	}
	return e
}

type details struct {
	RepositoryName string `json:"repositoryName"`
	Policy         struct {
		Rules []struct {
			RulePriority int    `json:"rulePriority"`
			Action       string `json:"action"`
			Selection    struct {
				TagStatus   string `json:"tagStatus"`
				CountType   string `json:"countType"`
				CountNumber int    `json:"countNumber"`
			} `json:"lifecycleEventSelection"`
		} `json:"lifecycleEventRules"`
		LastEvaluatedAt int64  `json:"lastEvaluatedAt"`
		PolicyVersion   int64  `json:"policyVersion"`
		PolicyID        string `json:"policyId"`
	} `json:"lifecycleEventPolicy"`
	Actions []struct {
		Image struct {
			Digest    string   `json:"digest"`
			TagStatus string   `json:"tagStatus"`
			TagList   []string `json:"tagList"`
			PushedAt  int64    `json:"pushedAt"`
		} `json:"lifecycleEventImage"`
		RulePriority int `json:"rulePriority"`
	} `json:"lifecycleEventImageActions"`
}

func TestPolicyExecutionRecordsSplit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ actions, records int }{{0, 0}, {1, 1}, {10, 1}, {11, 2}, {25, 3}} {
		e := execution(tc.actions)
		recs, err := audit.PolicyExecutionRecords(e)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != tc.records {
			t.Errorf("%d actions: %d records, want %d", tc.actions, len(recs), tc.records)
			continue
		}
		seen := 0
		for _, r := range recs {
			if r.EventName != "PolicyExecutionEvent" || r.EventType != "AwsServiceEvent" || r.EventSource != "ecr.amazonaws.com" ||
				r.UserIdentity.InvokedBy != "AWS Internal" || r.UserIdentity.Type != "AWSService" ||
				r.RecipientAccountID != "123456789012" || r.Resources[0].ARN != "arn:aws:ecr:us-east-1:123456789012:repository/web" {
				t.Errorf("record %+v", r)
			}
			var d details
			if err := json.Unmarshal(r.ServiceEventDetails, &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Actions) > lifecycle.MaxActionsPerRecord || d.RepositoryName != "web" || d.Policy.PolicyID != "pol-1" ||
				d.Policy.PolicyVersion != 3 || d.Policy.LastEvaluatedAt != e.EvaluatedAt.UnixMilli() ||
				len(d.Policy.Rules) != 1 || d.Policy.Rules[0].Action != "expire" ||
				d.Policy.Rules[0].Selection.CountType != "imageCountMoreThan" || d.Policy.Rules[0].Selection.CountNumber != 2 {
				t.Errorf("details %+v", d)
			}
			for _, a := range d.Actions {
				want := e.Actions[seen]
				if a.Image.Digest != want.Digest.String() || a.Image.PushedAt != want.PushedAt.UnixMilli() || a.RulePriority != 1 {
					t.Errorf("action %d = %+v, want %s", seen, a, want.Digest)
				}
				if seen == 0 && (len(a.Image.TagList) != lifecycle.MaxTagsPerAction || a.Image.TagStatus != "TAGGED") {
					t.Errorf("first image lists %d tags (%s), want %d TAGGED", len(a.Image.TagList), a.Image.TagStatus, lifecycle.MaxTagsPerAction)
				}
				if seen > 0 && (a.Image.TagStatus != "UNTAGGED" || a.Image.TagList == nil) {
					t.Errorf("untagged image: %+v", a.Image)
				}
				seen++
			}
		}
		if seen != tc.actions {
			t.Errorf("%d actions listed, want %d", seen, tc.actions)
		}
	}
	if _, err := audit.PolicyExecutionRecords(lifecycle.Execution{}); err == nil {
		t.Error("an execution without a repository made records")
	}
}

func TestRecordPolicyExecutionAppends(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	r := newRecorder(t, s, nil)
	if err := r.RecordPolicyExecution(context.Background(), execution(12)); err != nil {
		t.Fatal(err)
	}
	got := records(t, s) // written at once, not queued
	if len(got) != 2 || got[0].EventName != "PolicyExecutionEvent" || got[0].EventTime != "2026-12-06T03:00:00Z" {
		t.Fatalf("records %+v", got)
	}
	if res := verify(t, s); !res.OK {
		t.Errorf("verify: %+v", res)
	}
	var off *audit.Recorder // auditing off
	if err := off.RecordPolicyExecution(context.Background(), execution(3)); err != nil {
		t.Errorf("RecordPolicyExecution on a nil recorder: %v", err)
	}
}
