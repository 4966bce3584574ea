// Package audit keeps Berth's audit trail: a CloudTrail-shaped record of
// every ECR, IAM and STS API call and of every /v2 call that pushes, pulls,
// deletes or is denied, plus lifecycle PolicyExecutionEvents. Front ends
// describe the call on a Note the middleware put in the request context;
// the Recorder turns notes into Records, redacts secrets, and appends them
// through a bounded, batching writer to the store's hash chain
// (metastore.AuditStore). Lookup, Export and Verify read the trail back.
package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// Record is one audit record, in CloudTrail's event shape (version 1.08).
type Record struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	EventTime           string          `json:"eventTime"` // RFC 3339, seconds, UTC, as CloudTrail writes it
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress,omitempty"`
	UserAgent           string          `json:"userAgent,omitempty"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	RequestID           string          `json:"requestID,omitempty"`
	EventID             string          `json:"eventID"`
	ReadOnly            bool            `json:"readOnly"`
	Resources           []Resource      `json:"resources,omitempty"`
	EventType           string          `json:"eventType"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	ServiceEventDetails json.RawMessage `json:"serviceEventDetails,omitempty"`
	EventCategory       string          `json:"eventCategory"`
}

// UserIdentity is who made the call.
type UserIdentity struct {
	Type        string `json:"type"` // Root, IAMUser, AWSService or Anonymous
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	InvokedBy   string `json:"invokedBy,omitempty"`
}

// Resource is a resource the call concerned.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
}

// Record field values.
const (
	EventVersion     = "1.08"
	TypeAPICall      = "AwsApiCall"
	TypeServiceEvent = "AwsServiceEvent"

	SourceECR = "ecr.amazonaws.com"
	SourceIAM = "iam.amazonaws.com"
	SourceSTS = "sts.amazonaws.com"

	IdentityRoot      = "Root"
	IdentityIAMUser   = "IAMUser"
	IdentityService   = "AWSService"
	IdentityAnonymous = "Anonymous"

	ResourceTypeRepository = "AWS::ECR::Repository"
)

// timeFormat is CloudTrail's eventTime format.
const timeFormat = "2006-01-02T15:04:05Z"

// formatTime renders t as eventTime.
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// Entry is the record as the store keeps it: its canonical JSON and the
// lookup columns drawn from it. Verify recomputes the columns the same way.
func (r *Record) Entry() (metastore.AuditEntry, error) {
	at, err := time.Parse(timeFormat, r.EventTime)
	if err != nil {
		return metastore.AuditEntry{}, fmt.Errorf("audit: eventTime %q: %w", r.EventTime, err)
	}
	r.sanitizeColumns()
	body, err := json.Marshal(r)
	if err != nil {
		return metastore.AuditEntry{}, fmt.Errorf("audit: encode record: %w", err)
	}
	e := metastore.AuditEntry{Time: at, EventName: r.EventName, EventSource: r.EventSource,
		PrincipalARN: r.UserIdentity.ARN, UserName: r.UserIdentity.UserName, AccessKeyID: r.UserIdentity.AccessKeyID,
		ErrorCode: r.ErrorCode, Body: body}
	if len(r.Resources) > 0 {
		e.ResourceARN = r.Resources[0].ARN
		e.Repository = repositoryOfARN(r.Resources[0].ARN)
	}
	return e, nil
}

// Bounds of the fields copied into lookup columns. They may come from the
// request before it is authenticated or validated (an X-Amz-Target, an IAM
// Action, a /v2 path, a key id), so they are bounded here, below
// PostgreSQL's btree entry limit.
const (
	maxNameColumn = 256
	maxARNColumn  = 1024
)

// sanitizeColumns makes the fields the lookup columns copy what their JSON
// encoding will say (valid UTF-8, no NUL, which PostgreSQL's text refuses)
// and bounded, so that the columns Verify recomputes from the stored body
// match the stored columns, and no request can make a batch unwritable.
// It is idempotent.
func (r *Record) sanitizeColumns() {
	for _, f := range []*string{&r.EventName, &r.EventSource, &r.ErrorCode, &r.UserIdentity.UserName, &r.UserIdentity.AccessKeyID} {
		*f = column(*f, maxNameColumn)
	}
	r.UserIdentity.ARN = column(r.UserIdentity.ARN, maxARNColumn)
	for i := range r.Resources {
		r.Resources[i].ARN = column(r.Resources[i].ARN, maxARNColumn)
	}
}

// column is s as valid UTF-8 without NUL, clipped to n bytes.
func column(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	return clip(s, n)
}

// RepositoryARN is an ECR repository's ARN.
func RepositoryARN(region, account, name string) string {
	return "arn:aws:ecr:" + region + ":" + account + ":repository/" + name
}

// repositoryOfARN is the name in a repository ARN, "" for other ARNs.
func repositoryOfARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":ecr:") {
		return ""
	}
	_, name, ok := strings.Cut(arn, ":repository/")
	if !ok {
		return ""
	}
	return name
}
