package lifecycle

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Execution is what one lifecycle run did to one repository. The run that
// acts builds it from the decisions it carried out; the audit trail turns it
// into CloudTrail-shaped PolicyExecutionEvent records (spec §5.5), split so
// that no record lists more than MaxActionsPerRecord images.
type Execution struct {
	AccountID      string
	Region         string
	RepositoryName string
	// PolicyText is the policy evaluated, as stored; PolicyID identifies it
	// (it changes whenever the policy is put again) and PolicyVersion counts
	// the puts of this repository's policy.
	PolicyText    string
	PolicyID      string
	PolicyVersion int64
	// EvaluatedAt is the run's instant (the repository's lastEvaluatedAt).
	EvaluatedAt time.Time
	// Actions are the images acted on, in decision order.
	Actions []ExecutedAction
}

// ExecutedAction is one image a run expired or transitioned.
type ExecutedAction struct {
	Digest   digest.Digest
	Tags     []string // as they were when the run acted; none if untagged
	PushedAt time.Time
	Action   Action // Expire, or Transition with its target storage class
	// RulePriority and Reason are the decision's (Decision.Reason).
	RulePriority int
	Reason       string
}

// MaxActionsPerRecord is how many images one PolicyExecutionEvent lists
// before the actions spill into another record, as ECR splits them.
const MaxActionsPerRecord = 10

// MaxTagsPerAction caps the tags one action lists, as ECR does.
const MaxTagsPerAction = 100
