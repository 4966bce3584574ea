package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// Lookup limits, as LookupEvents has them but with a larger page.
const (
	DefaultMaxResults = 50
	MaxMaxResults     = metastore.MaxAuditPage
)

// LookupInput is a LookupEvents-like query.
type LookupInput struct {
	Filter     metastore.AuditFilter
	MaxResults int    // 1 to MaxMaxResults; 0 means DefaultMaxResults
	NextToken  string // from a previous LookupOutput
}

// LookupOutput is LookupEvents' answer: the newest matching records first.
type LookupOutput struct {
	Events    []Event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

// Event is one LookupEvents result; CloudTrailEvent is the whole record.
type Event struct {
	EventID         string          `json:"EventId"`
	EventName       string          `json:"EventName"`
	ReadOnly        string          `json:"ReadOnly"`
	AccessKeyID     string          `json:"AccessKeyId,omitempty"`
	EventTime       time.Time       `json:"EventTime"`
	EventSource     string          `json:"EventSource"`
	Username        string          `json:"Username,omitempty"`
	Resources       []EventResource `json:"Resources"`
	CloudTrailEvent string          `json:"CloudTrailEvent"`
	Seq             int64           `json:"Seq"`
}

// EventResource is a resource as LookupEvents lists it.
type EventResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName"`
}

// Lookup runs a LookupEvents-like query.
func Lookup(ctx context.Context, s metastore.AuditStore, in LookupInput) (LookupOutput, error) {
	limit := in.MaxResults
	if limit == 0 {
		limit = DefaultMaxResults
	}
	if limit < 1 || limit > MaxMaxResults {
		return LookupOutput{}, fmt.Errorf("max results must be between 1 and %d", MaxMaxResults)
	}
	var before int64
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err == nil {
			before, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || before <= 0 {
			return LookupOutput{}, fmt.Errorf("invalid next token %q", in.NextToken)
		}
	}
	entries, err := s.LookupAudit(ctx, in.Filter, before, limit)
	if err != nil {
		return LookupOutput{}, err
	}
	out := LookupOutput{Events: make([]Event, 0, len(entries))}
	for _, e := range entries {
		ev, err := eventOf(e)
		if err != nil {
			return LookupOutput{}, err
		}
		out.Events = append(out.Events, ev)
	}
	if len(entries) == limit && entries[len(entries)-1].Seq > 1 {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(entries[len(entries)-1].Seq, 10)))
	}
	return out, nil
}

func eventOf(e metastore.AuditEntry) (Event, error) {
	var r Record
	if err := json.Unmarshal(e.Body, &r); err != nil {
		return Event{}, fmt.Errorf("audit record %d does not parse: %w", e.Seq, err)
	}
	ev := Event{EventID: r.EventID, EventName: r.EventName, ReadOnly: strconv.FormatBool(r.ReadOnly),
		AccessKeyID: r.UserIdentity.AccessKeyID, EventTime: e.Time, EventSource: r.EventSource,
		Username: r.UserIdentity.UserName, Resources: []EventResource{}, CloudTrailEvent: string(e.Body), Seq: e.Seq}
	if ev.Username == "" && r.UserIdentity.Type == IdentityRoot {
		ev.Username = "root"
	}
	for _, res := range r.Resources {
		ev.Resources = append(ev.Resources, EventResource{ResourceType: res.Type, ResourceName: res.ARN})
	}
	return ev, nil
}

// Export writes the records f selects, oldest first, one JSON record per
// line, and returns how many it wrote.
func Export(ctx context.Context, s metastore.AuditStore, f metastore.AuditFilter, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	for after := int64(0); ; {
		page, err := s.ScanAudit(ctx, f, after, metastore.MaxAuditPage)
		if err != nil {
			return n, err
		}
		for _, e := range page {
			if _, err := bw.Write(append(e.Body, '\n')); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < metastore.MaxAuditPage {
			return n, bw.Flush()
		}
		after = page[len(page)-1].Seq
	}
}

// Verification problems.
const (
	ProblemChanged = "changed"
	ProblemRemoved = "removed"
)

// VerifyResult is what Verify found.
type VerifyResult struct {
	Records   int64 `json:"records"`   // records checked
	AnchorSeq int64 `json:"anchorSeq"` // the chain starts after it
	HeadSeq   int64 `json:"headSeq"`
	// HeadHash is the chain's last link: kept elsewhere, it shows later
	// whether the chain up to HeadSeq was rewritten wholesale.
	HeadHash string `json:"headHash"`
	OK       bool   `json:"ok"`
	// BadSeq is the first record found changed, or the first missing one;
	// Problem says which, Detail how it showed.
	BadSeq  int64  `json:"badSeq,omitempty"`
	Problem string `json:"problem,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Verify walks the chain from the anchor to the head and reports the first
// record changed or removed. It works while the server runs: records
// appended after it read the head are left for the next run, and a
// retention run that moved the anchor meanwhile is followed.
func Verify(ctx context.Context, s metastore.AuditStore) (VerifyResult, error) {
	c, err := s.AuditChain(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{AnchorSeq: c.AnchorSeq, HeadSeq: c.HeadSeq, HeadHash: c.HeadHash}
	next, prev := c.AnchorSeq+1, c.AnchorHash
scan:
	for after := c.AnchorSeq; ; {
		page, err := s.ScanAudit(ctx, metastore.AuditFilter{}, after, metastore.MaxAuditPage)
		if err != nil {
			return res, err
		}
		for _, e := range page {
			if e.Seq > c.HeadSeq {
				break scan // appended after the head was read
			}
			if res.Records == 0 && e.Seq != next {
				// Retention may have deleted records since the chain was
				// read: start from the anchor it left, if it moved.
				now, err := s.AuditChain(ctx)
				if err != nil {
					return res, err
				}
				if now.AnchorSeq > res.AnchorSeq && now.AnchorSeq < e.Seq {
					res.AnchorSeq, next, prev = now.AnchorSeq, now.AnchorSeq+1, now.AnchorHash
				}
			}
			if bad := checkEntry(e, next, prev); bad != nil {
				res.BadSeq, res.Problem, res.Detail = bad.BadSeq, bad.Problem, bad.Detail
				return res, nil
			}
			res.Records++
			next, prev = e.Seq+1, e.Hash
		}
		if len(page) < metastore.MaxAuditPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	if res.Records == 0 && next-1 < c.HeadSeq {
		// Retention may have deleted every record up to the head meanwhile.
		now, err := s.AuditChain(ctx)
		if err != nil {
			return res, err
		}
		if now.AnchorSeq >= c.HeadSeq { // nothing is left to check up to the head read
			res.AnchorSeq, res.HeadSeq, res.HeadHash, res.OK = now.AnchorSeq, now.AnchorSeq, now.AnchorHash, true
			return res, nil
		}
	}
	switch {
	case next-1 < c.HeadSeq:
		res.BadSeq, res.Problem = next, ProblemRemoved
		res.Detail = fmt.Sprintf("the chain's head is record %d but the last stored record is %d", c.HeadSeq, next-1)
	case next-1 > c.HeadSeq || prev != c.HeadHash:
		res.BadSeq, res.Problem = next-1, ProblemChanged
		res.Detail = "the chain's head does not match the last stored record"
	default:
		res.OK = true
	}
	return res, nil
}

// checkEntry checks that e is record seq of the chain, after prev.
func checkEntry(e metastore.AuditEntry, seq int64, prev string) *VerifyResult {
	bad := func(s int64, problem, format string, args ...any) *VerifyResult {
		return &VerifyResult{BadSeq: s, Problem: problem, Detail: fmt.Sprintf(format, args...)}
	}
	if e.Seq != seq {
		return bad(seq, ProblemRemoved, "record %d is missing: the next stored record is %d", seq, e.Seq)
	}
	if e.PrevHash != prev {
		return bad(seq, ProblemChanged, "record %d does not link to the record before it (prev_hash differs)", seq)
	}
	if metastore.AuditHash(prev, seq, e.Body) != e.Hash {
		return bad(seq, ProblemChanged, "record %d's content does not match its hash", seq)
	}
	var r Record
	if err := json.Unmarshal(e.Body, &r); err != nil {
		return bad(seq, ProblemChanged, "record %d does not parse: %v", seq, err)
	}
	want, err := r.Entry()
	if err != nil {
		return bad(seq, ProblemChanged, "record %d: %v", seq, err)
	}
	if !want.Time.Equal(e.Time) || want.EventName != e.EventName || want.EventSource != e.EventSource ||
		want.PrincipalARN != e.PrincipalARN || want.UserName != e.UserName || want.AccessKeyID != e.AccessKeyID ||
		want.ResourceARN != e.ResourceARN || want.Repository != e.Repository || want.ErrorCode != e.ErrorCode {
		return bad(seq, ProblemChanged, "record %d's lookup columns differ from its hashed content", seq)
	}
	return nil
}
