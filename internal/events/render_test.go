package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// TestRenderSpecShapes renders events whose facts are those of spec §9's
// samples and compares with the samples, byte for byte after parsing.
func TestRenderSpecShapes(t *testing.T) {
	t.Parallel()
	d := digest.Digest("sha256:9c1d0000000000000000000000000000000000000000000000000000000000aa")
	cases := []struct {
		name   string
		region string
		ev     metastore.Event
		want   string
	}{
		{"9.1 push", "eu-west-1", metastore.Event{
			ID: "0f0e0d0c-1111-2222-3333-444455556666", AccountID: "111122223333", Repository: "demo/app",
			DetailType: "ECR Image Action", ActionType: "PUSH", Result: "SUCCESS", Digest: d, Tag: "1.0.0",
			ManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
			Time:              time.Date(2025, 3, 1, 10, 0, 0, 999_000_000, time.UTC),
		}, `{"version":"0","id":"0f0e0d0c-1111-2222-3333-444455556666","detail-type":"ECR Image Action",
			 "source":"aws.ecr","account":"111122223333","time":"2025-03-01T10:00:00Z","region":"eu-west-1",
			 "resources":[],
			 "detail":{"result":"SUCCESS","repository-name":"demo/app","image-digest":"` + d.String() + `",
			           "action-type":"PUSH","image-tag":"1.0.0"}}`},
		{"9.1 untagged push", "eu-west-1", metastore.Event{
			ID: "0f0e0d0c-1111-2222-3333-444455556667", AccountID: "111122223333", Repository: "demo/app",
			DetailType: "ECR Image Action", ActionType: "PUSH", Result: "SUCCESS", Digest: d,
			// A non-UTC time is rendered in UTC.
			Time: time.Date(2025, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
		}, `{"version":"0","id":"0f0e0d0c-1111-2222-3333-444455556667","detail-type":"ECR Image Action",
			 "source":"aws.ecr","account":"111122223333","time":"2025-03-01T10:00:00Z","region":"eu-west-1",
			 "resources":[],
			 "detail":{"result":"SUCCESS","repository-name":"demo/app","image-digest":"` + d.String() + `",
			           "action-type":"PUSH"}}`},
		{"9.2 delete", "eu-west-1", metastore.Event{
			ID: "11111111-2222-3333-4444-555555555555", AccountID: "111122223333", Repository: "demo/app",
			DetailType: "ECR Image Action", ActionType: "DELETE", Result: "SUCCESS", Digest: d, Tag: "latest",
			Time: time.Date(2025, 3, 2, 0, 0, 1, 0, time.UTC),
		}, `{"version":"0","id":"11111111-2222-3333-4444-555555555555","detail-type":"ECR Image Action",
			 "source":"aws.ecr","account":"111122223333","time":"2025-03-02T00:00:01Z","region":"eu-west-1",
			 "resources":[],
			 "detail":{"result":"SUCCESS","repository-name":"demo/app","image-digest":"` + d.String() + `",
			           "action-type":"DELETE","image-tag":"latest"}}`},
		{"9.3 restore", "us-east-1", metastore.Event{
			ID: "22222222-2222-3333-4444-555555555555", AccountID: "111122223333", Repository: "ubuntu",
			DetailType: "ECR Image Action", ActionType: "UPDATE_STORAGE_CLASS", Result: "SUCCESS", Digest: d,
			ManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactMediaType: "application/vnd.oci.image.config.v1+json",
			Detail:            json.RawMessage(`{"target-storage-class":"STANDARD","last-activated-at":"2025-10-10T19:13:02.74Z"}`),
			Time:              time.Date(2025, 10, 10, 19, 13, 5, 0, time.UTC),
		}, `{"version":"0","id":"22222222-2222-3333-4444-555555555555","detail-type":"ECR Image Action",
			 "source":"aws.ecr","account":"111122223333","time":"2025-10-10T19:13:05Z","region":"us-east-1",
			 "resources":[],
			 "detail":{"action-type":"UPDATE_STORAGE_CLASS","target-storage-class":"STANDARD",
			           "image-digest":"` + d.String() + `","repository-name":"ubuntu","result":"SUCCESS",
			           "manifest-media-type":"application/vnd.oci.image.manifest.v1+json",
			           "artifact-media-type":"application/vnd.oci.image.config.v1+json",
			           "last-activated-at":"2025-10-10T19:13:02.74Z"}}`},
		{"9.5 scan", "eu-west-1", metastore.Event{
			ID: "33333333-2222-3333-4444-555555555555", AccountID: "111122223333", Repository: "demo/app",
			DetailType: "ECR Image Scan", Result: "SUCCESS", Digest: d,
			Detail: json.RawMessage(`{"scan-status":"COMPLETE","finding-severity-counts":{"HIGH":1,"MEDIUM":3},"image-tags":["1.0.0"]}`),
			Time:   time.Date(2025, 3, 1, 10, 2, 11, 0, time.UTC),
		}, `{"version":"0","id":"33333333-2222-3333-4444-555555555555","detail-type":"ECR Image Scan",
			 "source":"aws.ecr","account":"111122223333","time":"2025-03-01T10:02:11Z","region":"eu-west-1",
			 "resources":["arn:aws:ecr:eu-west-1:111122223333:repository/demo/app"],
			 "detail":{"scan-status":"COMPLETE","repository-name":"demo/app",
			           "finding-severity-counts":{"HIGH":1,"MEDIUM":3},
			           "image-digest":"` + d.String() + `","image-tags":["1.0.0"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Renderer{Region: tc.region}.Render(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, []byte(tc.want)) {
				t.Errorf("Render:\n got %s\nwant %s", got, compact(t, tc.want))
			}
		})
	}
}

func compact(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRenderEnvelopeOrder checks the envelope's key order (EventBridge's)
// and that a bad detail is an error, not a broken payload.
func TestRenderEnvelopeOrder(t *testing.T) {
	t.Parallel()
	ev := metastore.Event{ID: "x", AccountID: "111122223333", Repository: "r", DetailType: metastore.DetailTypeImageAction,
		ActionType: "PUSH", Result: "SUCCESS", Time: time.Unix(0, 0)}
	got, err := Renderer{Region: "us-east-1"}.Render(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"0","id":"x","detail-type":"ECR Image Action","source":"aws.ecr","account":"111122223333",` +
		`"time":"1970-01-01T00:00:00Z","region":"us-east-1","resources":[],` +
		`"detail":{"result":"SUCCESS","repository-name":"r","action-type":"PUSH"}}`
	if string(got) != want {
		t.Errorf("Render = %s\nwant %s", got, want)
	}
	ev.Detail = json.RawMessage(`[1]`)
	if _, err := (Renderer{Region: "us-east-1"}).Render(ev); err == nil {
		t.Error("Render with a non-object detail succeeded")
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	secret, body := []byte("s3cret"), []byte(`{"a":1}`)
	// Independently computed: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
	const want = "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
	got := Sign(secret, "1700000000", body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if !Verify(secret, "1700000000", body, got) {
		t.Error("Verify(Sign) = false")
	}
	for _, bad := range []struct{ secret, ts, body string }{
		{"other", "1700000000", `{"a":1}`}, {"s3cret", "1700000001", `{"a":1}`}, {"s3cret", "1700000000", `{"a":2}`},
	} {
		if Verify([]byte(bad.secret), bad.ts, []byte(bad.body), got) {
			t.Errorf("Verify accepted %+v", bad)
		}
	}
}
