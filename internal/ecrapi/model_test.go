package ecrapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/sigv4"
	authtoken "github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// commonErrors are the AWS-wide errors any operation may answer besides
// its modeled ones (spec §12.1) and ServerException.
var commonErrors = []string{
	"AccessDeniedException", "UnknownOperationException", "UnsupportedOperationException",
	"MissingAuthenticationTokenException", "IncompleteSignatureException", "InvalidSignatureException",
	"UnrecognizedClientException", "SerializationException",
	"ServiceUnavailableException", // §12.1's ServiceUnavailable (503), named as the others here are
}

// specModel is the service model as this test reads it, independently of
// the handler's own loader.
type specModel struct {
	Operations map[string]struct {
		Input  struct{ Shape string }   `json:"input"`
		Output struct{ Shape string }   `json:"output"`
		Errors []struct{ Shape string } `json:"errors"`
	} `json:"operations"`
	Shapes map[string]specShape `json:"shapes"`
}

type specShape struct {
	Type      string                            `json:"type"`
	Members   map[string]struct{ Shape string } `json:"members"`
	Member    struct{ Shape string }            `json:"member"`
	Key       struct{ Shape string }            `json:"key"`
	Value     struct{ Shape string }            `json:"value"`
	Enum      []string                          `json:"enum"`
	Pattern   string                            `json:"pattern"`
	Min       *float64                          `json:"min"`
	Max       *float64                          `json:"max"`
	Exception bool                              `json:"exception"`
	Fault     bool                              `json:"fault"`
}

func readSpecModel(t testing.TB) *specModel {
	t.Helper()
	var m specModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		t.Fatalf("embedded model: %v", err)
	}
	if len(m.Operations) < 50 || len(m.Shapes) < 100 {
		t.Fatalf("embedded model has %d operations and %d shapes; is it the ECR model?", len(m.Operations), len(m.Shapes))
	}
	return &m
}

// conform reports every way v (decoded with UseNumber) breaks shape.
func (m *specModel) conform(shape string, v any, path string) []string {
	sh, ok := m.Shapes[shape]
	if !ok {
		return []string{fmt.Sprintf("%s: shape %s is not in the model", path, shape)}
	}
	bad := func(format string, args ...any) []string {
		return []string{fmt.Sprintf("%s (%s %s): ", path, sh.Type, shape) + fmt.Sprintf(format, args...)}
	}
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want a JSON object, got %T", v)
		}
		var out []string
		for _, k := range sortedKeys(obj) {
			mem, ok := sh.Members[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s: member %q is not in shape %s (members: %s)", path, k, shape,
					strings.Join(sortedKeys(sh.Members), ", ")))
				continue
			}
			out = append(out, m.conform(mem.Shape, obj[k], path+"."+k)...)
		}
		return out
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return bad("want a JSON array, got %T", v)
		}
		out := m.checkRange(sh, float64(len(arr)), path, shape, "length")
		for i, e := range arr {
			out = append(out, m.conform(sh.Member.Shape, e, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want a JSON object, got %T", v)
		}
		var out []string
		for _, k := range sortedKeys(obj) {
			out = append(out, m.conform(sh.Key.Shape, k, path+"{key}")...)
			out = append(out, m.conform(sh.Value.Shape, obj[k], path+"["+strconv.Quote(k)+"]")...)
		}
		return out
	case "string":
		s, ok := v.(string)
		if !ok {
			return bad("want a string, got %T", v)
		}
		out := m.checkRange(sh, float64(len([]rune(s))), path, shape, "length")
		if len(sh.Enum) > 0 && !slices.Contains(sh.Enum, s) {
			out = append(out, bad("%q is not one of %v", s, sh.Enum)...)
		}
		if sh.Pattern != "" && !regexp.MustCompile(`^(?:`+sh.Pattern+`)$`).MatchString(s) {
			out = append(out, bad("%q does not match %s", s, sh.Pattern)...)
		}
		return out
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			return bad("want a number, got %T", v)
		}
		i, err := n.Int64()
		if err != nil {
			return bad("%s is not an integer", n)
		}
		return m.checkRange(sh, float64(i), path, shape, "value")
	case "double", "float":
		if _, ok := v.(json.Number); !ok {
			return bad("want a number, got %T", v)
		}
	case "timestamp": // AWS JSON 1.1: epoch seconds
		n, ok := v.(json.Number)
		if !ok {
			return bad("want epoch seconds, got %T", v)
		}
		if _, err := n.Float64(); err != nil {
			return bad("%s is not a number", n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("want a boolean, got %T", v)
		}
	case "blob":
		s, ok := v.(string)
		if !ok {
			return bad("want base64 in a string, got %T", v)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad("not base64: %v", err)
		}
		return m.checkRange(sh, float64(len(b)), path, shape, "length")
	default:
		return bad("unhandled model type %q", sh.Type)
	}
	return nil
}

func (m *specModel) checkRange(sh specShape, n float64, path, shape, what string) []string {
	if sh.Min != nil && n < *sh.Min || sh.Max != nil && n > *sh.Max {
		return []string{fmt.Sprintf("%s (%s): %s %g outside [%v, %v]", path, shape, what, n, deref64(sh.Min), deref64(sh.Max))}
	}
	return nil
}

func deref64(f *float64) any {
	if f == nil {
		return "-"
	}
	return *f
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// conformanceEnv drives the handler over real stores with signed requests
// and checks every answer against the model.
type conformanceEnv struct {
	t      *testing.T
	env    *registrytest.Env
	h      *Handler
	srv    *httptest.Server
	model  *specModel
	keyID  string
	secret string
	// ok records operations that answered 200; failed the exceptions seen.
	ok     map[string]bool
	failed map[string]map[string]bool
}

const (
	testKeyID  = "AKIAMODELCONFORM0001"
	testSecret = "model-conformance-secret/0123456789abcd"
)

func newConformanceEnv(t *testing.T) *conformanceEnv {
	t.Helper()
	env := registrytest.New(t, registry.Options{})
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal([]byte(testSecret), []byte(testKeyID))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := env.Meta.CreateAccessKey(ctx, metastore.AccessKey{ID: testKeyID, AccountID: registrytest.Account,
		SecretCiphertext: sealed, Active: true, CreatedAt: env.Clock.Now()}); err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	minter := authtoken.New(authtoken.Options{Store: env.Meta, Sealer: sealer, Clock: env.Clock.Now})
	h, err := New(Options{
		Service: env.Service, Tokens: minter, Signer: minter,
		Auth: &auth.SigV4Authenticator{Keys: env.Meta, Sealer: sealer,
			Verifier: &sigv4.Verifier{Region: registrytest.Region, Services: []string{"ecr"}, Clock: env.Clock.Now}},
		RegistryURL: "https://registry.example:5000", RegistryHost: "registry.example:5000",
		DefaultAccount: registrytest.Account, Region: registrytest.Region, Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatalf("ecrapi.New: %v", err)
	}
	e := &conformanceEnv{t: t, env: env, h: h, srv: httptest.NewServer(h), model: readSpecModel(t),
		keyID: testKeyID, secret: testSecret, ok: map[string]bool{}, failed: map[string]map[string]bool{}}
	t.Cleanup(e.srv.Close)
	return e
}

// signer signs a request (or leaves it unsigned when nil).
type signer func(req *http.Request, payloadHash string)

func (e *conformanceEnv) signAs(id, secret string) signer {
	return func(req *http.Request, payloadHash string) {
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
			req, payloadHash, "ecr", registrytest.Region, e.env.Clock.Now())
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// answer is one decoded response.
type answer struct {
	status int
	typ    string // __type of an error
	body   map[string]any
}

func (a answer) str(key string) string {
	s, _ := a.body[key].(string)
	return s
}

// send posts body to op, signed by sign, and checks the answer against the
// model: a 200 against the output shape, an error against the operation's
// declared errors and the exception's shape.
func (e *conformanceEnv) send(op string, body any, sign signer) answer {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/", bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	if sign != nil {
		sum := sha256.Sum256(raw)
		sign(req, hex.EncodeToString(sum[:]))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	a := answer{status: resp.StatusCode}
	if err := dec.Decode(&a.body); err != nil {
		e.t.Errorf("%s: response body is not a JSON object: %v", op, err)
		return a
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentType {
		e.t.Errorf("%s: Content-Type %q, want %s", op, ct, contentType)
	}
	if resp.StatusCode == http.StatusOK {
		e.ok[op] = true
		if out := e.model.Operations[op].Output.Shape; out != "" {
			e.report(op, e.model.conform(out, a.body, op+"Response"))
		} else if len(a.body) > 0 {
			e.t.Errorf("%s: the model declares no output, Berth answered %v", op, a.body)
		}
		return a
	}
	a.typ, _ = a.body["__type"].(string)
	e.checkError(op, resp, a)
	return a
}

func (e *conformanceEnv) checkError(op string, resp *http.Response, a answer) {
	e.t.Helper()
	if e.failed[op] == nil {
		e.failed[op] = map[string]bool{}
	}
	e.failed[op][a.typ] = true
	if h := resp.Header.Get("X-Amzn-Errortype"); h != "" && h != a.typ {
		e.t.Errorf("%s: x-amzn-ErrorType %q differs from __type %q", op, h, a.typ)
	}
	declared := []string{"ServerException"}
	if o, ok := e.model.Operations[op]; ok {
		for _, er := range o.Errors {
			declared = append(declared, er.Shape)
		}
	}
	if !slices.Contains(declared, a.typ) && !slices.Contains(commonErrors, a.typ) {
		e.t.Errorf("%s: answered %s (HTTP %d, %v), which the model does not list for it (%v) and is not a common AWS error",
			op, a.typ, a.status, a.body["message"], declared)
	}
	if m, _ := a.body["message"].(string); m == "" {
		e.t.Errorf("%s: %s without a message", op, a.typ)
	}
	sh, modeled := e.model.Shapes[a.typ]
	if !modeled {
		for k := range a.body {
			if k != "__type" && k != "message" {
				e.t.Errorf("%s: common error %s carries member %q", op, a.typ, k)
			}
		}
		return
	}
	if !sh.Exception {
		e.t.Errorf("%s: __type %s is a model shape but not an exception", op, a.typ)
	}
	if want := map[bool]int{false: 400, true: 500}[sh.Fault]; a.status != want {
		e.t.Errorf("%s: %s sent with HTTP %d, want %d", op, a.typ, a.status, want)
	}
	rest := map[string]any{}
	for k, v := range a.body {
		if k != "__type" {
			rest[k] = v
		}
	}
	e.report(op, e.model.conform(a.typ, rest, a.typ))
}

func (e *conformanceEnv) report(op string, problems []string) {
	e.t.Helper()
	for _, p := range problems {
		e.t.Errorf("%s: %s", op, p)
	}
}

// call sends a request signed with the test key and fails unless it
// answered 200.
func (e *conformanceEnv) call(op string, body any) answer {
	e.t.Helper()
	a := e.send(op, body, e.signAs(e.keyID, e.secret))
	if a.status != http.StatusOK {
		e.t.Fatalf("%s %v: HTTP %d %s: %v", op, body, a.status, a.typ, a.body["message"])
	}
	return a
}

// fail sends a signed request that must answer exception exc.
func (e *conformanceEnv) fail(op string, body any, exc string) answer {
	e.t.Helper()
	a := e.send(op, body, e.signAs(e.keyID, e.secret))
	if a.typ != exc {
		e.t.Errorf("%s %.200v: HTTP %d %q (%v), want %s", op, body, a.status, a.typ, a.body["message"], exc)
	}
	return a
}

type obj = map[string]any

// TestECRResponsesConformToModel drives every operation Berth implements,
// through success and failure, and checks each answer against the model.
func TestECRResponsesConformToModel(t *testing.T) {
	t.Parallel()
	e := newConformanceEnv(t)
	repositoryScenarios(e)
	policyScenarios(e)
	layerAndImageScenarios(e)
	storageScenarios(e)
	lifecycleScenarios(e)
	commonErrorScenarios(e)
	for op := range e.h.ops {
		if !e.ok[op] {
			t.Errorf("operation %s never answered 200 in this test; add a scenario for it", op)
		}
	}
	for op, excs := range e.failed {
		t.Logf("%s: exceptions exercised: %v", op, sortedKeys(excs))
	}
	// Last: a broken store is a ServerException, and conforms too.
	e.env.CloseMeta(t)
	e.fail("DescribeRepositories", obj{}, "ServerException")
}

func repositoryScenarios(e *conformanceEnv) {
	acct := registrytest.Account
	e.call("CreateRepository", obj{"repositoryName": "app/web", "imageTagMutability": "MUTABLE",
		"imageScanningConfiguration": obj{"scanOnPush": true}, "encryptionConfiguration": obj{"encryptionType": "AES256"},
		"tags": []obj{{"Key": "team", "Value": "a"}}})
	e.call("CreateRepository", obj{"repositoryName": "app/empty", "registryId": acct})
	e.fail("CreateRepository", obj{"repositoryName": "app/web"}, "RepositoryAlreadyExistsException")
	e.fail("CreateRepository", obj{"repositoryName": "App"}, "InvalidParameterException")
	e.fail("CreateRepository", obj{"repositoryName": "app/x", "imageTagMutability": "SOMETIMES"}, "InvalidParameterException")
	e.fail("CreateRepository", obj{"repositoryName": "app/x", "tags": []obj{{"Key": "aws:x", "Value": "y"}}}, "InvalidTagParameterException")
	e.fail("CreateRepository", obj{"repositoryName": "app/x", "tags": manyTags(51)}, "TooManyTagsException")
	e.fail("CreateRepository", obj{"repositoryName": "app/x", "encryptionConfiguration": obj{"encryptionType": "AES256", "kmsKey": "k"}},
		"InvalidParameterException")

	e.call("DescribeRepositories", obj{})
	e.call("DescribeRepositories", obj{"repositoryNames": []string{"app/web", "app/empty"}})
	first := e.call("DescribeRepositories", obj{"maxResults": 1})
	if first.str("nextToken") == "" {
		e.t.Fatalf("DescribeRepositories maxResults 1 of 2: no nextToken")
	}
	e.call("DescribeRepositories", obj{"maxResults": 1, "nextToken": first.str("nextToken")})
	e.fail("DescribeRepositories", obj{"repositoryNames": []string{"app/none"}}, "RepositoryNotFoundException")
	e.fail("DescribeRepositories", obj{"nextToken": "forged"}, "InvalidParameterException")
	e.fail("DescribeRepositories", obj{"maxResults": 0}, "InvalidParameterException")

	e.call("PutImageTagMutability", obj{"repositoryName": "app/web", "imageTagMutability": "MUTABLE"})
	e.fail("PutImageTagMutability", obj{"repositoryName": "app/none", "imageTagMutability": "MUTABLE"}, "RepositoryNotFoundException")
	e.call("PutImageScanningConfiguration", obj{"repositoryName": "app/web", "imageScanningConfiguration": obj{"scanOnPush": false}})
	e.fail("PutImageScanningConfiguration", obj{"repositoryName": "app/none", "imageScanningConfiguration": obj{"scanOnPush": false}},
		"RepositoryNotFoundException")
	e.call("DescribeRegistry", obj{})

	arn := "arn:aws:ecr:us-east-1:" + acct + ":repository/app/web"
	e.call("TagResource", obj{"resourceArn": arn, "tags": []obj{{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""}}})
	e.call("ListTagsForResource", obj{"resourceArn": arn})
	e.call("UntagResource", obj{"resourceArn": arn, "tagKeys": []string{"env"}})
	e.fail("TagResource", obj{"resourceArn": arn, "tags": []obj{{"Key": strings.Repeat("k", 129), "Value": "v"}}}, "InvalidTagParameterException")
	e.fail("TagResource", obj{"resourceArn": arn, "tags": manyTags(50)}, "TooManyTagsException")
	e.fail("UntagResource", obj{"resourceArn": arn, "tagKeys": []string{"aws:x"}}, "InvalidTagParameterException")
	e.fail("ListTagsForResource", obj{"resourceArn": "app/web"}, "InvalidParameterException")
	e.fail("UntagResource", obj{"resourceArn": "arn:aws:ecr:us-east-1:" + acct + ":repository/app/none", "tagKeys": []string{"a"}},
		"RepositoryNotFoundException")

	tok := e.call("GetAuthorizationToken", obj{})
	if data, _ := tok.body["authorizationData"].([]any); len(data) != 1 {
		e.t.Errorf("GetAuthorizationToken: %d authorizationData entries, want 1", len(data))
	}
	e.call("GetAuthorizationToken", obj{"registryIds": []string{acct, registrytest.OtherAccount}})
	e.fail("GetAuthorizationToken", obj{"registryIds": []string{"1"}}, "InvalidParameterException")
}

func manyTags(n int) []obj {
	out := make([]obj, n)
	for i := range out {
		out[i] = obj{"Key": fmt.Sprintf("k%03d", i), "Value": "v"}
	}
	return out
}

func policyScenarios(e *conformanceEnv) {
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*"}]}`
	repo := obj{"repositoryName": "app/web"}
	e.fail("GetRepositoryPolicy", repo, "RepositoryPolicyNotFoundException")
	e.fail("DeleteRepositoryPolicy", repo, "RepositoryPolicyNotFoundException")
	e.call("SetRepositoryPolicy", obj{"repositoryName": "app/web", "policyText": policy})
	e.call("GetRepositoryPolicy", repo)
	e.fail("SetRepositoryPolicy", obj{"repositoryName": "app/web", "policyText": "{"}, "InvalidParameterException")
	e.fail("SetRepositoryPolicy", obj{"repositoryName": "app/none", "policyText": policy}, "RepositoryNotFoundException")
	e.fail("GetRepositoryPolicy", obj{"repositoryName": "app/none"}, "RepositoryNotFoundException")
	e.call("DeleteRepositoryPolicy", repo)

	e.fail("GetRegistryPolicy", obj{}, "RegistryPolicyNotFoundException")
	e.fail("DeleteRegistryPolicy", obj{}, "RegistryPolicyNotFoundException")
	e.call("PutRegistryPolicy", obj{"policyText": policy})
	e.call("GetRegistryPolicy", obj{})
	e.fail("PutRegistryPolicy", obj{"policyText": `{"Version":"2012-10-17"}`}, "InvalidParameterException")
	e.call("DeleteRegistryPolicy", obj{})

	e.call("GetAccountSetting", obj{"name": "BLOB_MOUNTING"})
	e.call("PutAccountSetting", obj{"name": "BLOB_MOUNTING", "value": "DISABLED"})
	e.call("PutAccountSetting", obj{"name": "BLOB_MOUNTING", "value": "ENABLED"})
	e.fail("PutAccountSetting", obj{"name": "BLOB_MOUNTING", "value": "MAYBE"}, "InvalidParameterException")
	e.fail("GetAccountSetting", obj{"name": "NO_SUCH_SETTING"}, "InvalidParameterException")
}

func layerAndImageScenarios(e *conformanceEnv) {
	t, env := e.t, e.env
	who, ref := registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "app/web")
	base := registrytest.Image{Config: []byte(`{"architecture":"amd64","os":"linux"}`), Layers: [][]byte{[]byte("layer one"), []byte("layer two")}}
	body, dgst := env.Push(t, who, ref, "v1", base)
	childA, _ := env.Push(t, who, ref, "", registrytest.Image{Config: []byte(`{"os":"linux","architecture":"arm64"}`), Layers: [][]byte{[]byte("a")}})
	childB, _ := env.Push(t, who, ref, "", registrytest.Image{Config: []byte(`{"os":"linux","architecture":"s390x"}`), Layers: [][]byte{[]byte("b")}})
	subject := registrytest.Descriptor(ocispec.MediaTypeImageManifest, body)
	_, sbom := env.Push(t, who, ref, "", registrytest.Image{Config: []byte("{}"), Layers: [][]byte{[]byte("sbom")},
		ArtifactType: "application/vnd.example.sbom.v1", Subject: &subject})
	repo := "app/web"

	e.call("PutImage", obj{"repositoryName": repo, "imageManifest": string(registrytest.Index(childA, childB)), "imageTag": "multi",
		"imageManifestMediaType": ocispec.MediaTypeImageIndex})
	e.call("PutImage", obj{"repositoryName": repo, "imageManifest": string(body), "imageTag": "v2", "imageDigest": dgst.String()})
	e.fail("PutImage", obj{"repositoryName": repo, "imageManifest": string(body), "imageTag": "v2"}, "ImageAlreadyExistsException")
	e.fail("PutImage", obj{"repositoryName": repo, "imageManifest": string(body), "imageTag": "v3",
		"imageDigest": "sha256:" + strings.Repeat("1", 64)}, "ImageDigestDoesNotMatchException")
	missing := registrytest.Image{Config: []byte("{}"), Layers: [][]byte{[]byte("never uploaded")}}
	e.fail("PutImage", obj{"repositoryName": repo, "imageManifest": string(missing.JSON()), "imageTag": "v4"}, "LayersNotFoundException")
	e.fail("PutImage", obj{"repositoryName": repo, "imageManifest": string(registrytest.Index(missing.JSON())), "imageTag": "v5"},
		"ReferencedImagesNotFoundException")
	e.fail("PutImage", obj{"repositoryName": repo, "imageManifest": "{", "imageTag": "v6"}, "InvalidParameterException")
	e.fail("PutImage", obj{"repositoryName": "app/none", "imageManifest": string(body), "imageTag": "v6"}, "RepositoryNotFoundException")

	e.call("ListImages", obj{"repositoryName": repo})
	e.call("ListImages", obj{"repositoryName": repo, "filter": obj{"tagStatus": "UNTAGGED"}})
	page := e.call("ListImages", obj{"repositoryName": repo, "maxResults": 1})
	e.call("ListImages", obj{"repositoryName": repo, "maxResults": 1, "nextToken": page.str("nextToken")})
	e.fail("ListImages", obj{"repositoryName": "app/empty", "nextToken": page.str("nextToken")}, "InvalidParameterException")
	e.fail("ListImages", obj{"repositoryName": "app/none"}, "RepositoryNotFoundException")
	e.call("DescribeImages", obj{"repositoryName": repo})
	e.call("DescribeImages", obj{"repositoryName": repo, "imageIds": []obj{{"imageTag": "multi"}, {"imageDigest": sbom.String()}}})
	dpage := e.call("DescribeImages", obj{"repositoryName": repo, "maxResults": 2, "filter": obj{"tagStatus": "ANY"}})
	e.call("DescribeImages", obj{"repositoryName": repo, "maxResults": 2, "filter": obj{"tagStatus": "ANY"}, "nextToken": dpage.str("nextToken")})
	e.fail("DescribeImages", obj{"repositoryName": repo, "imageIds": []obj{{"imageTag": "nope"}}}, "ImageNotFoundException")
	e.fail("DescribeImages", obj{"repositoryName": "app/none"}, "RepositoryNotFoundException")
	e.call("BatchGetImage", obj{"repositoryName": repo, "imageIds": []obj{{"imageTag": "v1"}, {"imageDigest": sbom.String()}, {"imageTag": "nope"}, {}},
		"acceptedMediaTypes": []string{ocispec.MediaTypeImageManifest}})
	e.fail("BatchGetImage", obj{"repositoryName": "app/none", "imageIds": []obj{{"imageTag": "v1"}}}, "RepositoryNotFoundException")
	e.call("ListImageReferrers", obj{"repositoryName": repo, "subjectId": obj{"imageDigest": dgst.String()}})
	e.call("ListImageReferrers", obj{"repositoryName": repo, "subjectId": obj{"imageDigest": dgst.String()},
		"filter": obj{"artifactTypes": []string{"application/vnd.example.sbom.v1"}}, "maxResults": 1})
	e.fail("ListImageReferrers", obj{"repositoryName": "app/none", "subjectId": obj{"imageDigest": dgst.String()}}, "RepositoryNotFoundException")

	e.call("BatchCheckLayerAvailability", obj{"repositoryName": repo,
		"layerDigests": []string{digestOf(base.Config), digestOf([]byte("nope")), "not-a-digest"}})
	e.fail("BatchCheckLayerAvailability", obj{"repositoryName": "app/none", "layerDigests": []string{digestOf(base.Config)}}, "RepositoryNotFoundException")
	e.call("GetDownloadUrlForLayer", obj{"repositoryName": repo, "layerDigest": digestOf(base.Layers[0])})
	e.fail("GetDownloadUrlForLayer", obj{"repositoryName": repo, "layerDigest": digestOf([]byte("nope"))}, "LayersNotFoundException")
	e.fail("GetDownloadUrlForLayer", obj{"repositoryName": "app/none", "layerDigest": digestOf([]byte("nope"))}, "RepositoryNotFoundException")

	uploadScenarios(e, repo)

	e.call("BatchDeleteImage", obj{"repositoryName": repo, "imageIds": []obj{{"imageTag": "v2"}, {"imageTag": "nope"}, {},
		{"imageDigest": "sha256:zz"}, {"imageDigest": digestOf(childA)}}})
	e.fail("BatchDeleteImage", obj{"repositoryName": "app/none", "imageIds": []obj{{"imageTag": "v1"}}}, "RepositoryNotFoundException")
	e.fail("DeleteRepository", obj{"repositoryName": repo}, "RepositoryNotEmptyException")
	e.call("DeleteRepository", obj{"repositoryName": repo, "force": true})
	e.call("DeleteRepository", obj{"repositoryName": "app/empty"})
	e.fail("DeleteRepository", obj{"repositoryName": "app/empty"}, "RepositoryNotFoundException")
}

func uploadScenarios(e *conformanceEnv, repo string) {
	part := []byte("0123456789")
	id := e.call("InitiateLayerUpload", obj{"repositoryName": repo}).str("uploadId")
	e.call("UploadLayerPart", obj{"repositoryName": repo, "uploadId": id, "partFirstByte": 0, "partLastByte": 9, "layerPartBlob": part})
	e.fail("UploadLayerPart", obj{"repositoryName": repo, "uploadId": id, "partFirstByte": 5, "partLastByte": 14, "layerPartBlob": part},
		"InvalidLayerPartException")
	e.fail("UploadLayerPart", obj{"repositoryName": repo, "uploadId": id, "partFirstByte": 10, "partLastByte": 30, "layerPartBlob": part},
		"InvalidLayerPartException")
	e.fail("UploadLayerPart", obj{"repositoryName": repo, "uploadId": "3f1d2a4e-1111-4222-8333-944445555666", "partFirstByte": 0,
		"partLastByte": 9, "layerPartBlob": part}, "UploadNotFoundException")
	e.fail("CompleteLayerUpload", obj{"repositoryName": repo, "uploadId": id, "layerDigests": []string{digestOf([]byte("other"))}},
		"InvalidLayerException")

	id = e.call("InitiateLayerUpload", obj{"repositoryName": repo}).str("uploadId")
	e.fail("CompleteLayerUpload", obj{"repositoryName": repo, "uploadId": id, "layerDigests": []string{digestOf(nil)}}, "EmptyUploadException")
	e.call("UploadLayerPart", obj{"repositoryName": repo, "uploadId": id, "partFirstByte": 0, "partLastByte": 9, "layerPartBlob": part})
	e.call("CompleteLayerUpload", obj{"repositoryName": repo, "uploadId": id, "layerDigests": []string{digestOf(part)}})
	e.fail("CompleteLayerUpload", obj{"repositoryName": repo, "uploadId": id, "layerDigests": []string{digestOf(part)}}, "UploadNotFoundException")

	id = e.call("InitiateLayerUpload", obj{"repositoryName": repo}).str("uploadId")
	e.call("UploadLayerPart", obj{"repositoryName": repo, "uploadId": id, "partFirstByte": 0, "partLastByte": 9, "layerPartBlob": part})
	e.fail("CompleteLayerUpload", obj{"repositoryName": repo, "uploadId": id, "layerDigests": []string{digestOf(part)}}, "LayerAlreadyExistsException")
	e.fail("InitiateLayerUpload", obj{"repositoryName": "app/none"}, "RepositoryNotFoundException")
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func commonErrorScenarios(e *conformanceEnv) {
	signed := e.signAs(e.keyID, e.secret)
	check := func(what string, a answer, want string) {
		e.t.Helper()
		if a.typ != want {
			e.t.Errorf("%s: %q (HTTP %d, %v), want %s", what, a.typ, a.status, a.body["message"], want)
		}
	}
	check("unknown operation", e.send("NoSuchOperation", obj{}, signed), "UnknownOperationException")
	check("unimplemented model operation", e.send("DescribeRepositoryCreationTemplates", obj{}, signed),
		"UnsupportedOperationException")
	check("unsigned request", e.send("DescribeRepositories", obj{}, nil), "MissingAuthenticationTokenException")
	check("wrong secret", e.send("DescribeRepositories", obj{}, e.signAs(e.keyID, e.secret+"x")), "InvalidSignatureException")
	check("unknown key", e.send("DescribeRepositories", obj{}, e.signAs("AKIAMODELUNKNOWN0001", e.secret)), "UnrecognizedClientException")
	check("truncated Authorization header", e.send("DescribeRepositories", obj{}, func(req *http.Request, _ string) {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAMODELCONFORM0001")
	}), "IncompleteSignatureException")
	check("body that is not JSON", e.send("DescribeRepositories", "{", signed), "SerializationException")
	check("member of the wrong JSON type", e.send("DescribeRepositories", obj{"maxResults": "ten"}, signed), "InvalidParameterException")
	check("another account's registry", e.send("CreateRepository", obj{"registryId": registrytest.OtherAccount, "repositoryName": "app/x"}, signed),
		"AccessDeniedException")
	check("another account's repository", e.send("DescribeRepositories",
		obj{"registryId": registrytest.OtherAccount, "repositoryNames": []string{"app/x"}}, signed), "AccessDeniedException")
}

// TestECRExceptionNamesAreModeled: every exception name in errors.go is an
// exception shape of the model or a common AWS error, so a typo cannot
// reach a client.
func TestECRExceptionNamesAreModeled(t *testing.T) {
	t.Parallel()
	m := readSpecModel(t)
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "exc") || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		n++
		sh, modeled := m.Shapes[name]
		switch {
		case modeled && !sh.Exception:
			t.Errorf("%s = %q is a model shape but not an exception", vs.Names[0].Name, name)
		case !modeled && !slices.Contains(commonErrors, name):
			t.Errorf("%s = %q is neither a model exception nor a common AWS error", vs.Names[0].Name, name)
		case modeled && statusOf(name) != map[bool]int{false: 400, true: 500}[sh.Fault]:
			t.Errorf("%s is sent with HTTP %d; the model says fault=%v", name, statusOf(name), sh.Fault)
		}
		return true
	})
	if n < 20 {
		t.Fatalf("found only %d exception constants in errors.go", n)
	}
}

// TestECREmbeddedModelIsTheSharedModel: the embedded model is the one the
// specification was written from.
func TestECREmbeddedModelIsTheSharedModel(t *testing.T) {
	t.Parallel()
	const shared = "../../../shared/aws-models/ecr-2015-09-21.service.json"
	want, err := os.ReadFile(shared)
	if os.IsNotExist(err) {
		t.Skipf("%s does not exist here (the shared models live outside the repository); nothing to compare", shared)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(modelJSON, want) {
		t.Errorf("model/ecr-2015-09-21.service.json (%d bytes) differs from %s (%d bytes); copy the shared model",
			len(modelJSON), shared, len(want))
	}
}

// TestECRConformFindsViolations: the checker above reports what it must.
func TestECRConformFindsViolations(t *testing.T) {
	t.Parallel()
	m := readSpecModel(t)
	cases := map[string]struct {
		shape string
		doc   string
	}{
		"unknown member":         {"DescribeRepositoriesResponse", `{"repositories":[{"repositoryName":"ab","bogus":1}]}`},
		"unknown nested member":  {"BatchGetImageResponse", `{"images":[{"imageId":{"imageDigest":"sha256:00","digest":"x"}}]}`},
		"value outside the enum": {"BatchGetImageResponse", `{"failures":[{"failureCode":"Nope"}]}`},
		"string for a number":    {"UploadLayerPartResponse", `{"lastByteReceived":"9"}`},
		"negative part size":     {"UploadLayerPartResponse", `{"lastByteReceived":-1}`},
		"pattern":                {"DescribeRegistryResponse", `{"registryId":"12"}`},
		"object for a list":      {"ListImagesResponse", `{"imageIds":{}}`},
		"string for a timestamp": {"GetAuthorizationTokenResponse", `{"authorizationData":[{"expiresAt":"tomorrow"}]}`},
	}
	for name, c := range cases {
		dec := json.NewDecoder(strings.NewReader(c.doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if got := m.conform(c.shape, v, c.shape); len(got) != 1 {
			t.Errorf("%s: %d problems %q, want 1", name, len(got), got)
		}
	}
	ok := `{"repositories":[{"repositoryName":"ab","registryId":"111111111111","createdAt":1735787045.5,` +
		`"imageScanningConfiguration":{"scanOnPush":true},"imageTagMutability":"MUTABLE"}],"nextToken":"x"}`
	dec := json.NewDecoder(strings.NewReader(ok))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	if got := m.conform("DescribeRepositoriesResponse", v, "ok"); len(got) != 0 {
		t.Errorf("a conforming document: %q", got)
	}
}
