package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to tamper with PostgreSQL
	_ "modernc.org/sqlite"             // the "sqlite" driver, to tamper with the data directory's database

	"github.com/berth-registry/berth/internal/testenv"
)

// auditRecord is the part of a CloudTrail record the tests check.
type auditRecord struct {
	EventName    string `json:"eventName"`
	EventSource  string `json:"eventSource"`
	EventType    string `json:"eventType"`
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	SourceIPAddress   string          `json:"sourceIPAddress"`
	UserAgent         string          `json:"userAgent"`
	ErrorCode         string          `json:"errorCode"`
	RequestID         string          `json:"requestID"`
	EventID           string          `json:"eventID"`
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
	Resources         []struct {
		ARN string `json:"ARN"`
	} `json:"resources"`
	ServiceEventDetails json.RawMessage `json:"serviceEventDetails"`
}

// auditStorage is how admin commands and the tamperer reach a server's
// database.
type auditStorage struct {
	flags  []string // storage flags for berth admin
	driver string   // database/sql driver
	dsn    string
}

func sqliteStorage(s *server) auditStorage {
	return auditStorage{flags: []string{"--data-dir", s.dataDir}, driver: "sqlite",
		dsn: "file:" + filepath.Join(s.dataDir, "audit.db") + "?_pragma=busy_timeout(10000)"}
}

// auditAdmin runs `berth admin audit args…` and returns its output and
// whether it exited with status 0.
func auditAdmin(t *testing.T, st auditStorage, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(berthBin, append(append([]string{"admin", "audit"}, args...), st.flags...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("berth admin audit %v: %v", args, err)
	}
	return out.String() + errOut.String(), err == nil
}

// exportAudit returns every record, oldest first.
func exportAudit(t *testing.T, st auditStorage) []auditRecord {
	t.Helper()
	out, ok := auditAdmin(t, st, "export")
	if !ok {
		t.Fatalf("berth admin audit export failed:\n%s", out)
	}
	var recs []auditRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r auditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// tamper runs one SQL statement on the server's database, as someone with
// database access would.
func tamper(t *testing.T, st auditStorage, stmt string) {
	t.Helper()
	db, err := sql.Open(st.driver, st.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// wantRecord finds the first record matching and checks it.
func wantRecord(t *testing.T, recs []auditRecord, what string, match func(r auditRecord) bool, check func(r auditRecord) string) {
	t.Helper()
	for _, r := range recs {
		if match(r) {
			if msg := check(r); msg != "" {
				t.Errorf("%s: %s\nrecord %+v", what, msg, r)
			}
			return
		}
	}
	t.Errorf("%s: no audit record", what)
}

func TestAuditTrailSQLite(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	auditScenario(t, s, sqliteStorage(s))
}

func TestAuditTrailPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDatabase(t)
	if _, err := pgx.ParseConfig(dsn); err != nil {
		t.Fatal(err)
	}
	s := startBerth(t, withFlags("--database", dsn))
	auditScenario(t, s, auditStorage{flags: []string{"--database", dsn, "--data-dir", s.dataDir}, driver: "pgx", dsn: dsn})
}

// auditScenario makes ECR, IAM, STS and registry calls, allowed and
// denied, checks each left its record, then tampers with the trail.
func auditScenario(t *testing.T, s *server, st auditStorage) {
	ctx := testContext(t, 4*time.Minute)
	root := s.ecr()
	createRepo(t, ctx, root, "audit/app")
	password := registryPassword(t, ctx, root)
	// A user without any policy, made through IAM (CreateUser,
	// CreateAccessKey, GetCallerIdentity are audited too).
	nobody := s.createUser(t, ctx, userSpec{name: "nobody"})
	nobodyUser, err := s.iam(rootKey).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	if err != nil {
		t.Fatal(err)
	}
	nobodyID := aws.ToString(nobodyUser.User.UserId)
	if _, err := s.ecrAs(nobody).DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("audit/app")}); err == nil {
		t.Fatal("DescribeImages as a user without policies succeeded")
	}

	// Push and pull with a registry client, as docker login would: the
	// token's password, and a user agent of its own.
	const ua = "berth-audit-e2e/1.0"
	token := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})
	img, err := random.Image(400, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := s.repo(t, "audit/app").Tag("v1")
	if err := remote.Write(ref, img, remoteOpts(ctx, token, remote.WithUserAgent(ua))...); err != nil {
		t.Fatalf("push: %v", err)
	}
	d := mustDigest(t, img).String()
	got, err := remote.Image(ref, remoteOpts(ctx, token, remote.WithUserAgent(ua))...)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("pull: %v", err)
	}
	_, err = remote.Image(ref, remoteOpts(ctx, nobody.basic(), remote.WithUserAgent(ua))...)
	wantDenied(t, "pull as nobody", err, "")
	if r := s.rawAs(t, http.MethodGet, "/v2/", "AWS", "not-a-password", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ with a bad password: %d", r.Status)
	}
	if _, err := root.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("audit/app")}); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, http.MethodDelete, "/v2/audit/app/manifests/v1", nil, nil); r.Status != http.StatusAccepted {
		t.Fatalf("DELETE tag: %d %s", r.Status, r.Body)
	}
	out, err := root.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("audit/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d)}}})
	if err != nil || len(out.Failures) > 0 {
		t.Fatalf("BatchDeleteImage: %v %+v", err, out)
	}

	var recs []auditRecord
	waitUntil(t, 10*time.Second, "the last call's audit record", func() bool {
		recs = exportAudit(t, st)
		// The /v2 DELETE just before is a BatchDeleteImage too: wait for the SDK's.
		if len(recs) == 0 {
			return false
		}
		last := recs[len(recs)-1:]
		return last[0].EventName == "BatchDeleteImage" && last[0].UserIdentity.Type == "Root" &&
			last[0].EventSource == "ecr.amazonaws.com" && strings.Contains(last[0].UserAgent, "aws-sdk")
	})
	checkAuditRecords(t, recs, password, nobody, nobodyID, d, ua)
	checkAuditLookup(t, st)
	checkAuditTampering(t, st)
}

func checkAuditRecords(t *testing.T, recs []auditRecord, password string, nobody accessKey, nobodyID, digest, ua string) {
	t.Helper()
	rootARN := "arn:aws:iam::" + defaultAccount + ":root"
	// CloudTrail's principalId: the account for its root, the user's unique id for an IAM user.
	principalID := map[string]string{rootARN: defaultAccount, userARN("nobody"): nobodyID}
	named := func(name string) func(auditRecord) bool {
		return func(r auditRecord) bool { return r.EventName == name }
	}
	sdkCall := func(arn, key, errorCode string) func(auditRecord) string {
		return func(r auditRecord) string {
			switch {
			case r.UserIdentity.ARN != arn || r.UserIdentity.AccessKeyID != key || r.UserIdentity.PrincipalID != principalID[arn]:
				return "principal " + r.UserIdentity.ARN + " " + r.UserIdentity.AccessKeyID + " " + r.UserIdentity.PrincipalID +
					", want " + arn + " " + key + " " + principalID[arn]
			case r.SourceIPAddress != "127.0.0.1":
				return "source IP " + r.SourceIPAddress
			case !strings.Contains(r.UserAgent, "aws-sdk-go-v2"):
				return "user agent " + r.UserAgent
			case r.ErrorCode != errorCode:
				return "error code " + r.ErrorCode + ", want " + errorCode
			case r.EventVersion != "1.08" || r.EventType != "AwsApiCall" || len(r.EventID) != 36 || len(r.RequestID) == 0:
				return "envelope"
			}
			return ""
		}
	}
	wantRecord(t, recs, "CreateRepository", named("CreateRepository"), func(r auditRecord) string {
		if msg := sdkCall(rootARN, rootKeyID, "")(r); msg != "" {
			return msg
		}
		if !strings.Contains(string(r.RequestParameters), `"repositoryName":"audit/app"`) || len(r.Resources) != 1 ||
			r.Resources[0].ARN != repoARN(defaultAccount, "audit/app") || !strings.Contains(string(r.ResponseElements), "repositoryUri") {
			return "parameters, resources or response"
		}
		return ""
	})
	wantRecord(t, recs, "GetAuthorizationToken", named("GetAuthorizationToken"), sdkCall(rootARN, rootKeyID, ""))
	wantRecord(t, recs, "CreateUser", named("CreateUser"), func(r auditRecord) string {
		if r.EventSource != "iam.amazonaws.com" || !strings.Contains(string(r.RequestParameters), `"userName":"nobody"`) {
			return "source or parameters"
		}
		return sdkCall(rootARN, rootKeyID, "")(r)
	})
	wantRecord(t, recs, "CreateAccessKey", named("CreateAccessKey"), func(r auditRecord) string {
		if !strings.Contains(string(r.ResponseElements), `"secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS"`) {
			return "secret access key not hidden in " + string(r.ResponseElements)
		}
		return ""
	})
	wantRecord(t, recs, "GetCallerIdentity", named("GetCallerIdentity"), func(r auditRecord) string {
		if r.EventSource != "sts.amazonaws.com" {
			return "source " + r.EventSource
		}
		return sdkCall(userARN("nobody"), nobody.id, "")(r)
	})
	wantRecord(t, recs, "DescribeImages denied", func(r auditRecord) bool {
		return r.EventName == "DescribeImages" && r.ErrorCode != ""
	}, sdkCall(userARN("nobody"), nobody.id, "AccessDeniedException"))
	wantRecord(t, recs, "DescribeImages", func(r auditRecord) bool {
		return r.EventName == "DescribeImages" && r.ErrorCode == ""
	}, sdkCall(rootARN, rootKeyID, ""))
	registryCall := func(arn, errorCode string) func(auditRecord) string {
		return func(r auditRecord) string {
			switch {
			case r.UserIdentity.ARN != arn || r.UserIdentity.PrincipalID != principalID[arn]:
				return "principal " + r.UserIdentity.ARN + " " + r.UserIdentity.PrincipalID
			case r.SourceIPAddress != "127.0.0.1" || !strings.Contains(r.UserAgent, ua):
				return "source " + r.SourceIPAddress + " " + r.UserAgent
			case r.ErrorCode != errorCode:
				return "error code " + r.ErrorCode + ", want " + errorCode
			case !strings.Contains(string(r.RequestParameters), `"repositoryName":"audit/app"`):
				return "parameters " + string(r.RequestParameters)
			}
			return ""
		}
	}
	for _, name := range []string{"InitiateLayerUpload", "CompleteLayerUpload", "PutImage", "GetDownloadUrlForLayer"} {
		wantRecord(t, recs, name, named(name), registryCall(rootARN, ""))
	}
	wantRecord(t, recs, "PutImage response", named("PutImage"), func(r auditRecord) string {
		if !strings.Contains(string(r.ResponseElements), `"imageDigest":"`+digest+`"`) ||
			!strings.Contains(string(r.RequestParameters), `"imageTag":"v1"`) {
			return "digest or tag"
		}
		return ""
	})
	wantRecord(t, recs, "BatchGetImage (pull)", func(r auditRecord) bool {
		return r.EventName == "BatchGetImage" && r.ErrorCode == ""
	}, registryCall(rootARN, ""))
	wantRecord(t, recs, "BatchGetImage denied", func(r auditRecord) bool {
		return r.EventName == "BatchGetImage" && r.ErrorCode != ""
	}, registryCall(userARN("nobody"), "DENIED"))
	wantRecord(t, recs, "failed docker login", named("RegistryLogin"), func(r auditRecord) string {
		if r.ErrorCode != "UNAUTHORIZED" || r.UserIdentity.Type != "Anonymous" || r.SourceIPAddress != "127.0.0.1" {
			return "error code, identity or source"
		}
		return ""
	})
	wantRecord(t, recs, "BatchDeleteImage (/v2 DELETE)", func(r auditRecord) bool {
		return r.EventName == "BatchDeleteImage" && !strings.Contains(r.UserAgent, "aws-sdk")
	}, func(r auditRecord) string {
		if r.UserIdentity.ARN != rootARN || !strings.Contains(string(r.RequestParameters), `"imageTag":"v1"`) {
			return "principal or parameters"
		}
		return ""
	})
	wantRecord(t, recs, "BatchDeleteImage (ECR API)", func(r auditRecord) bool {
		return r.EventName == "BatchDeleteImage" && strings.Contains(r.UserAgent, "aws-sdk")
	}, sdkCall(rootARN, rootKeyID, ""))
	// Reads that are no pull, and the credential challenge every client
	// starts with, are recorded only when denied.
	for _, r := range recs {
		switch r.EventName {
		case "BatchCheckLayerAvailability", "RegistryLogin", "ListImages", "GetLayerUploadStatus":
			if r.ErrorCode == "" {
				t.Errorf("%s recorded though it was not denied: %+v", r.EventName, r)
			}
		}
	}
	// No secret is stored anywhere.
	all, _ := json.Marshal(recs)
	for _, secret := range []string{password, rootSecret, nobody.secret} {
		if strings.Contains(string(all), secret) {
			t.Errorf("a secret is stored in the audit trail")
		}
	}
}

func checkAuditLookup(t *testing.T, st auditStorage) {
	t.Helper()
	out, ok := auditAdmin(t, st, "lookup", "--principal", "nobody", "--max-results", "1000")
	if !ok {
		t.Fatalf("lookup: %s", out)
	}
	var page struct {
		Events []struct {
			EventName       string
			Username        string
			CloudTrailEvent string
		}
		NextToken string
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("lookup output: %v\n%s", err, out)
	}
	names := map[string]bool{}
	for _, e := range page.Events {
		if e.Username != "nobody" {
			t.Errorf("lookup --principal nobody returned %s by %q", e.EventName, e.Username)
		}
		names[e.EventName] = true
	}
	if !names["DescribeImages"] || !names["BatchGetImage"] || !names["GetCallerIdentity"] {
		t.Errorf("lookup --principal nobody: events %v", names)
	}
	out, ok = auditAdmin(t, st, "lookup", "--event-name", "PutImage", "--resource", "audit/app", "--max-results", "1")
	if !ok || !strings.Contains(out, `"EventName": "PutImage"`) {
		t.Errorf("lookup PutImage: ok %v\n%s", ok, out)
	}
	if out, ok := auditAdmin(t, st, "lookup", "--max-results", "5000"); ok {
		t.Errorf("lookup --max-results 5000 succeeded:\n%s", out)
	}
	if out, ok := auditAdmin(t, st, "lookup", "--start-time", "yesterday"); ok || !strings.Contains(out, "RFC 3339") {
		t.Errorf("lookup with a bad time: ok %v\n%s", ok, out)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, _ := auditAdmin(t, st, "export", "--start-time", future); strings.TrimSpace(out) != "" {
		t.Errorf("export from the future:\n%s", out)
	}
}

func checkAuditTampering(t *testing.T, st auditStorage) {
	t.Helper()
	if out, ok := auditAdmin(t, st, "verify"); !ok || !strings.Contains(out, "chain intact") {
		t.Fatalf("verify of an untampered trail: ok %v\n%s", ok, out)
	}
	var seq int64
	db, err := sql.Open(st.driver, st.dsn)
	if err != nil {
		t.Fatal(err)
	}
	err = db.QueryRowContext(context.Background(), "SELECT min(seq) FROM audit_records WHERE event_name = 'DescribeImages' AND error_code = ''").Scan(&seq)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	at := "at record " + itoa(seq)
	// A changed field.
	tamper(t, st, "UPDATE audit_records SET record = replace(record, '127.0.0.1', '10.9.9.9') WHERE seq = "+itoa(seq))
	if out, ok := auditAdmin(t, st, "verify"); ok || !strings.Contains(out, at+" (changed)") {
		t.Errorf("verify after a changed record: ok %v\n%s", ok, out)
	}
	tamper(t, st, "UPDATE audit_records SET record = replace(record, '10.9.9.9', '127.0.0.1') WHERE seq = "+itoa(seq))
	if out, ok := auditAdmin(t, st, "verify"); !ok {
		t.Errorf("verify after undoing the change:\n%s", out)
	}
	// A removed record.
	tamper(t, st, "DELETE FROM audit_records WHERE seq = "+itoa(seq))
	if out, ok := auditAdmin(t, st, "verify"); ok || !strings.Contains(out, at+" (removed)") {
		t.Errorf("verify after a removed record: ok %v\n%s", ok, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAuditRetentionJob: the audit-retention job, run at once with
// `berth admin jobs run --wait`, deletes the records older than the
// retention (90 days by default; the oldest records are backdated for the
// test), keeps the newer ones, and the trail still verifies from its
// anchor. An unknown job is refused by name.
func TestAuditRetentionJob(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	st := sqliteStorage(s)
	ctx := testContext(t, 2*time.Minute)
	root := s.ecr()
	for _, r := range []string{"retention/a", "retention/b", "retention/c", "retention/d"} {
		createRepo(t, ctx, root, r)
	}
	count := func() (n, minSeq int64) {
		t.Helper()
		db, err := sql.Open(st.driver, st.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, "SELECT count(*), coalesce(min(seq), 0) FROM audit_records").Scan(&n, &minSeq); err != nil {
			t.Fatal(err)
		}
		return n, minSeq
	}
	// Records are written in batches after the answer: wait for all four CreateRepository.
	for !slices.ContainsFunc(exportAudit(t, st), func(r auditRecord) bool {
		return r.EventName == "CreateRepository" && strings.Contains(string(r.RequestParameters), "retention/d")
	}) {
		if ctx.Err() != nil {
			t.Fatal("the fourth CreateRepository record never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	total, first := count()
	if first != 1 || total < 4 {
		t.Fatalf("before retention: %d records from seq %d", total, first)
	}
	const old = 3
	tamper(t, st, "UPDATE audit_records SET event_time = event_time - 100*86400000000000 WHERE seq <= "+itoa(old))

	run := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, berthBin, append(append([]string{"admin", "jobs", "run"}, args...), st.flags...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("--job", "audit-retention", "--wait"); err != nil || !strings.Contains(out, "job audit-retention ran on ") ||
		!strings.Contains(out, ": ok, took ") {
		t.Fatalf("berth admin jobs run --job audit-retention --wait: %v\n%s", err, out)
	}
	n, first := count()
	if first != old+1 || n < total-old {
		t.Errorf("after retention: %d records from seq %d; want the %d not backdated from seq %d on", n, first, total-old, old+1)
	}
	if out, ok := auditAdmin(t, st, "verify"); !ok || !strings.Contains(out, "chain intact") ||
		!strings.Contains(out, "seq "+itoa(old+1)+" to ") {
		t.Errorf("verify after retention: ok %v\n%s", ok, out)
	}

	out, err := run("--job", "no-such-job")
	if err == nil || !strings.Contains(out, `unknown job "no-such-job"`) || !strings.Contains(out, "audit-retention") {
		t.Errorf("run of an unknown job: err %v\n%s", err, out)
	}
	// A mistyped data directory is an error, not an empty trail made there.
	typo := filepath.Join(t.TempDir(), "typo")
	if out, ok := auditAdmin(t, auditStorage{flags: []string{"--data-dir", typo}}, "verify"); ok ||
		!strings.Contains(out, "no audit trail in data directory") {
		t.Errorf("verify of a data directory without a trail: ok %v\n%s", ok, out)
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Errorf("verify of a mistyped data directory created it: %v", err)
	}
	if out, err := run("--wait"); err == nil || !strings.Contains(out, "--job is required") {
		t.Errorf("run without --job: err %v\n%s", err, out)
	}
	// Event delivery is one long run that lasts as long as its node.
	if out, err := run("--job", "event-delivery", "--wait", "--timeout", "1s"); err == nil ||
		!strings.Contains(out, "job event-delivery: no run finished within 1s") {
		t.Errorf("run --wait of a job that does not finish: err %v\n%s", err, out)
	}
}
