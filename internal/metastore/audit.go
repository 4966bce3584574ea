package metastore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// The audit trail (package audit writes it) is an append-only,
// hash-chained log of CloudTrail-shaped records. The store keeps each
// record's canonical JSON as written, a few columns drawn from it for
// lookups, and the chain: every record's hash covers the previous record's
// hash, its own sequence number and its JSON, so changing or removing a
// stored record breaks the chain from that record on. Retention deletes a
// prefix of the chain and keeps the last deleted record's hash as the
// anchor the remaining chain starts from.

// AuditEntry is one stored audit record.
type AuditEntry struct {
	// Seq is the record's position in the chain, assigned by AppendAudit
	// from 1 without gaps.
	Seq int64
	// Time is the record's eventTime.
	Time time.Time
	// Lookup columns, copies of fields of Body.
	EventName    string
	EventSource  string
	PrincipalARN string
	UserName     string
	AccessKeyID  string
	ResourceARN  string // the first resource's ARN; "" when none
	Repository   string // the repository the call concerned; "" when none
	ErrorCode    string
	// Body is the record's canonical JSON, hashed as stored.
	Body []byte
	// PrevHash and Hash link the chain (hex SHA-256), set by AppendAudit.
	PrevHash string
	Hash     string
}

// AuditGenesis is the PrevHash of the first record ever appended.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditHash is the chain link of a record: hex SHA-256 of the previous
// record's hash, the record's sequence number and its canonical JSON.
func AuditHash(prevHash string, seq int64, body []byte) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte("\n" + strconv.FormatInt(seq, 10) + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditChain is the chain's bookkeeping: where it starts after retention
// (the anchor) and its last record (the head).
type AuditChain struct {
	// AnchorSeq and AnchorHash are the last deleted record's (0 and
	// AuditGenesis while nothing was deleted): the first stored record
	// must have Seq AnchorSeq+1 and PrevHash AnchorHash.
	AnchorSeq  int64
	AnchorHash string
	// HeadSeq and HeadHash are the last appended record's.
	HeadSeq  int64
	HeadHash string
}

// AuditFilter selects records; zero fields select everything.
type AuditFilter struct {
	// Start and End bound Time: Start <= Time < End.
	Start, End time.Time
	EventName  string
	// Principal matches the principal's ARN, user name or access key id.
	Principal string
	// Resource matches the resource ARN or the repository name.
	Resource string
}

// MaxAuditPage bounds one LookupAudit or ScanAudit page.
const MaxAuditPage = 1000

// AuditStore persists the audit trail. Appends are serialized across every
// node sharing the database, so the chain never forks.
type AuditStore interface {
	// AppendAudit appends entries in order, atomically: it assigns Seq,
	// PrevHash and Hash (written back into the slice) and moves the head.
	// Entries need Time and Body; the other columns are the caller's.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// LookupAudit returns the records f selects, newest (highest Seq)
	// first, with Seq < before (0: no bound), at most limit (1 to
	// MaxAuditPage).
	LookupAudit(ctx context.Context, f AuditFilter, before int64, limit int) ([]AuditEntry, error)
	// ScanAudit returns the records f selects with Seq > after, in Seq
	// order, at most limit (1 to MaxAuditPage): export and verification.
	ScanAudit(ctx context.Context, f AuditFilter, after int64, limit int) ([]AuditEntry, error)
	// AuditChain returns the chain's anchor and head.
	AuditChain(ctx context.Context) (AuditChain, error)
	// DeleteAuditBefore deletes at most limit of the oldest records, in Seq
	// order, stopping at the first with Time >= before, and moves the
	// anchor to the last one deleted; it returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error)
}
