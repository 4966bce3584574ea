// Package events delivers registry events from the metadata store's outbox
// to the sinks operators configure per account: HTTP webhooks (signed with
// HMAC-SHA256) and NATS subjects. Payloads have Amazon EventBridge's shape
// (spec §9): the envelope version, id, detail-type, source "aws.ecr",
// account, time, region, resources, and kebab-case detail fields.
//
// Delivery is at least once, in order per repository and sink: the
// Dispatcher runs as one background job in the deployment, routes outbox
// events to the matching sinks, delivers each repository's events in turn,
// retries failures with exponential backoff (the repository waits, others
// proceed) and dead-letters what keeps failing, for the operator to retry
// or discard. All of its state is in the database, so a restart, or another
// node taking the job over, resumes where it stopped.
package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/berth-registry/berth/internal/metastore"
)

// Source is the EventBridge source of every event.
const Source = "aws.ecr"

// Renderer turns outbox events into EventBridge JSON for one deployment.
type Renderer struct {
	Region    string // e.g. "us-east-1"
	Partition string // "aws" when empty
}

// field is one detail field, in output order.
type field struct {
	key   string
	value any
}

// Render returns e as an EventBridge event:
//
//	{"version":"0","id":…,"detail-type":…,"source":"aws.ecr","account":…,
//	 "time":"2025-03-01T10:00:00Z","region":…,"resources":[…],"detail":{…}}
//
// The detail holds the event's own fields (see detail) followed by the
// further fields of e.Detail; a further field named like an own one
// replaces it.
func (r Renderer) Render(e metastore.Event) ([]byte, error) {
	detail, err := r.detail(e)
	if err != nil {
		return nil, err
	}
	env := struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}{
		Version: "0", ID: e.ID, DetailType: e.DetailType, Source: Source, Account: e.AccountID,
		Time: e.Time.UTC().Format("2006-01-02T15:04:05Z"), Region: r.Region, Resources: r.resources(e),
		Detail: detail,
	}
	return json.Marshal(env)
}

// RepositoryARN is the ARN of the event's repository.
func (r Renderer) RepositoryARN(e metastore.Event) string {
	p := r.Partition
	if p == "" {
		p = "aws"
	}
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", p, r.Region, e.AccountID, e.Repository)
}

// resources is empty for image and referrer actions (spec §9.1–9.4) and
// the repository's ARN for the other ECR events (scan, replication, pull
// through cache: §9.5, §9.8, §9.9).
func (r Renderer) resources(e metastore.Event) []string {
	switch e.DetailType {
	case metastore.DetailTypeImageAction, metastore.DetailTypeReferrerAction:
		return []string{}
	}
	return []string{r.RepositoryARN(e)}
}

// detail renders the detail object. Image and referrer actions carry
// result, repository-name, image-digest, action-type and image-tag (when
// the event has a tag, §9.1, §9.2); storage-class changes and referrer
// actions add manifest-media-type and artifact-media-type (§9.3, §9.4).
// Scan events have no result (their scan-status comes in e.Detail).
func (r Renderer) detail(e metastore.Event) (json.RawMessage, error) {
	var fs []field
	if e.DetailType != metastore.DetailTypeImageScan {
		fs = append(fs, field{"result", e.Result})
	}
	fs = append(fs, field{"repository-name", e.Repository})
	if e.Digest != "" {
		fs = append(fs, field{"image-digest", e.Digest.String()})
	}
	if e.ActionType != "" {
		fs = append(fs, field{"action-type", e.ActionType})
	}
	if e.Tag != "" {
		fs = append(fs, field{"image-tag", e.Tag})
	}
	if e.ActionType == metastore.ActionUpdateStorageClass || e.DetailType == metastore.DetailTypeReferrerAction {
		fs = append(fs, field{"manifest-media-type", e.ManifestMediaType}, field{"artifact-media-type", e.ArtifactMediaType})
	}
	if len(e.Detail) > 0 {
		var extra map[string]json.RawMessage
		if err := json.Unmarshal(e.Detail, &extra); err != nil {
			return nil, fmt.Errorf("event %s: detail: %w", e.ID, err)
		}
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if i := slices.IndexFunc(fs, func(f field) bool { return f.key == k }); i >= 0 {
				fs[i].value = extra[k]
				continue
			}
			fs = append(fs, field{k, extra[k]})
		}
	}
	return marshalFields(fs)
}

// marshalFields writes an object with the fields in order.
func marshalFields(fs []field) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
