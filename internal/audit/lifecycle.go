package audit

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/berth-registry/berth/internal/lifecycle"
)

// Lifecycle runs are recorded as CloudTrail records them (spec §5.5): an
// AwsServiceEvent named PolicyExecutionEvent, invoked by "AWS Internal",
// whose serviceEventDetails name the repository, the policy and the images
// acted on, at most lifecycle.MaxActionsPerRecord images per record.

// serviceDetails is a PolicyExecutionEvent's serviceEventDetails.
type serviceDetails struct {
	RepositoryName string           `json:"repositoryName"`
	Policy         policyDetails    `json:"lifecycleEventPolicy"`
	Actions        []imageActionRec `json:"lifecycleEventImageActions"`
}

type policyDetails struct {
	Rules           []ruleDetails `json:"lifecycleEventRules"`
	LastEvaluatedAt int64         `json:"lastEvaluatedAt"` // Unix ms
	PolicyVersion   int64         `json:"policyVersion"`
	PolicyID        string        `json:"policyId"`
}

type ruleDetails struct {
	RulePriority int              `json:"rulePriority"`
	Description  string           `json:"description,omitempty"`
	Selection    selectionDetails `json:"lifecycleEventSelection"`
	Action       string           `json:"action"` // expire or transition
	// TargetStorageClass is a transition's (archive).
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

type selectionDetails struct {
	TagStatus      string   `json:"tagStatus"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	StorageClass   string   `json:"storageClass,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

type imageActionRec struct {
	Image        imageDetails `json:"lifecycleEventImage"`
	RulePriority int          `json:"rulePriority"`
	// Action and TargetStorageClass say what was done (expire, or
	// transition to archive).
	Action             string `json:"action"`
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

type imageDetails struct {
	Digest    string   `json:"digest"`
	TagStatus string   `json:"tagStatus"` // TAGGED or UNTAGGED
	TagList   []string `json:"tagList"`
	PushedAt  int64    `json:"pushedAt"` // Unix ms
}

// RecordPolicyExecution appends the PolicyExecutionEvent records of one
// lifecycle run, and returns once they are in the trail; a run that acted
// on nothing records nothing, and so does a nil Recorder (auditing off).
func (r *Recorder) RecordPolicyExecution(ctx context.Context, e lifecycle.Execution) error {
	if r == nil {
		return nil
	}
	recs, err := PolicyExecutionRecords(e)
	if err != nil || len(recs) == 0 {
		return err
	}
	return r.Append(ctx, recs...)
}

// PolicyExecutionRecords turns a run into its records, in action order.
func PolicyExecutionRecords(e lifecycle.Execution) ([]*Record, error) {
	if e.AccountID == "" || e.Region == "" || e.RepositoryName == "" {
		return nil, errors.New("audit: a lifecycle execution needs an account, a region and a repository")
	}
	if len(e.Actions) == 0 {
		return nil, nil
	}
	policy := policyDetails{Rules: policyRules(e.PolicyText), LastEvaluatedAt: e.EvaluatedAt.UnixMilli(),
		PolicyVersion: e.PolicyVersion, PolicyID: e.PolicyID}
	arn := RepositoryARN(e.Region, e.AccountID, e.RepositoryName)
	var recs []*Record
	for start := 0; start < len(e.Actions); start += lifecycle.MaxActionsPerRecord {
		part := e.Actions[start:min(start+lifecycle.MaxActionsPerRecord, len(e.Actions))]
		d := serviceDetails{RepositoryName: e.RepositoryName, Policy: policy, Actions: make([]imageActionRec, len(part))}
		for i, a := range part {
			d.Actions[i] = imageAction(a)
		}
		details, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		recs = append(recs, &Record{
			EventVersion: EventVersion, EventTime: formatTime(e.EvaluatedAt), EventSource: SourceECR,
			EventName: "PolicyExecutionEvent", AWSRegion: e.Region, SourceIPAddress: "AWS Internal",
			UserAgent: "AWS Internal", UserIdentity: UserIdentity{Type: IdentityService, AccountID: e.AccountID,
				InvokedBy: "AWS Internal"},
			EventID: uuid.NewString(), ReadOnly: false, Resources: []Resource{{ARN: arn, AccountID: e.AccountID,
				Type: ResourceTypeRepository}},
			EventType: TypeServiceEvent, ManagementEvent: true, RecipientAccountID: e.AccountID,
			ServiceEventDetails: details, EventCategory: "Management",
		})
	}
	return recs, nil
}

func imageAction(a lifecycle.ExecutedAction) imageActionRec {
	tags := a.Tags
	if len(tags) > lifecycle.MaxTagsPerAction {
		tags = tags[:lifecycle.MaxTagsPerAction]
	}
	img := imageDetails{Digest: a.Digest.String(), TagStatus: string(lifecycle.TagStatusUntagged),
		TagList: append([]string{}, tags...), PushedAt: a.PushedAt.UnixMilli()}
	if len(a.Tags) > 0 {
		img.TagStatus = string(lifecycle.TagStatusTagged)
	}
	return imageActionRec{Image: img, RulePriority: a.RulePriority, Action: strings.ToLower(string(a.Action.Type)),
		TargetStorageClass: strings.ToLower(string(a.Action.TargetStorageClass))}
}

// policyRules describes a policy's rules; a policy that no longer parses
// (it was stored by an older version) is described by no rules.
func policyRules(text string) []ruleDetails {
	p, err := lifecycle.Parse(text)
	if err != nil {
		return []ruleDetails{}
	}
	var out []ruleDetails
	for _, r := range p.Rules() {
		s := r.Selection
		out = append(out, ruleDetails{RulePriority: r.Priority, Description: r.Description,
			Selection: selectionDetails{TagStatus: strings.ToLower(string(s.TagStatus)), TagPrefixList: s.TagPrefixList,
				TagPatternList: s.TagPatternList, StorageClass: strings.ToLower(string(s.StorageClass)),
				CountType: string(s.CountType), CountUnit: s.CountUnit, CountNumber: s.CountNumber},
			Action: strings.ToLower(string(r.Action.Type)), TargetStorageClass: strings.ToLower(string(r.Action.TargetStorageClass))})
	}
	return out
}
