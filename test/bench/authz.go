package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The authorization scenarios run against Berth only: the manifest HEAD by
// tag of manifest_head_tag as an IAM user whose identity policy has
// authzStatements statements, of which only the last allows the request,
// on a repository with a policy, interleaved with the same HEAD as the root
// user, whom identity policies do not restrict but the repository policy
// does. The repository policy stays on repoTags for the rest of the run.
const (
	authzUser = "bench-authz"
	// authzStatements is the size of the user's inline identity policy.
	authzStatements = 20
	// groupAuthzHead interleaves the user's HEAD with the root's.
	groupAuthzHead = "authz-head"
)

// authzScenarios are the user's HEAD, whose target is a rate of at least
// 0.9x the root's, and the root's HEAD, its baseline: one group, so
// repetitions interleave.
func (b *bench) authzScenarios() []*scenario {
	head := b.manifestOp(http.MethodHead)
	user := b.rateScenario("authz_head_policies",
		fmt.Sprintf("manifest HEAD by tag, user: %d-stmt + repo policy", authzStatements),
		rule{baseline: "authz_head_root", ratio: 0.9},
		b.prepareAuthz,
		func(ctx context.Context, t *target, w int) (opFunc, error) {
			tt := *t
			tt.auth = b.authzAuth
			return head(ctx, &tt, w)
		}, false)
	root := b.rateScenario("authz_head_root", "manifest HEAD by tag, root: repo policy", rule{info: true},
		b.prepareAuthz, head, false)
	for _, sc := range []*scenario{user, root} {
		sc.berthOnly, sc.group = true, groupAuthzHead
	}
	return []*scenario{user, root}
}

// prepareAuthz (once) pushes the tags, creates the user, sets repoTags'
// policy, gives the user its identity policy and an access key, and checks
// the decisions: without its last statement the policy allows nothing (and
// denies nothing) for the HEAD, with it the user reads, and the repository
// policy lets the root read.
func (b *bench) prepareAuthz(ctx context.Context, t *target) error {
	if b.authzTried {
		if b.authzAuth == "" {
			return errors.New("the authorization set-up failed (see above)")
		}
		return nil
	}
	b.authzTried = true
	if err := b.prepareTags(ctx, t); err != nil {
		return err
	}
	ecrc := t.ecrClient(&recorder{tr: t.tr})
	out, err := ecrc.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repoTags}})
	if err != nil {
		return fmt.Errorf("DescribeRepositories: %w", err)
	}
	if len(out.Repositories) != 1 {
		return fmt.Errorf("DescribeRepositories %s: %d repositories, want 1", repoTags, len(out.Repositories))
	}
	arn := aws.ToString(out.Repositories[0].RepositoryArn) // arn:aws:ecr:<region>:<account>:repository/<name>
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[5] != "repository/"+repoTags {
		return fmt.Errorf("DescribeRepositories %s: unexpected ARN %q", repoTags, arn)
	}
	p := authzParams{account: parts[4], repoARN: arn,
		otherRegion:  other(parts[3], "eu-west-1", "ap-southeast-2"),
		otherAccount: other(parts[4], "111122223333", "444455556666")}
	c := t.iamClient()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(authzUser), Tags: []iamtypes.Tag{
		{Key: aws.String("team"), Value: aws.String("platform")}, {Key: aws.String("env"), Value: aws.String("ci")},
	}}); err != nil {
		return fmt.Errorf("CreateUser: %w", err)
	}
	if _, err := ecrc.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{ // names the user: after CreateUser
		RepositoryName: aws.String(repoTags), PolicyText: aws.String(p.repositoryPolicy()),
	}); err != nil {
		return fmt.Errorf("SetRepositoryPolicy: %w", err)
	}
	stmts := p.identityStatements()
	if len(stmts) != authzStatements {
		return fmt.Errorf("identity policy: %d statements, want %d", len(stmts), authzStatements)
	}
	put := func(stmts []string) error {
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
		_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(authzUser),
			PolicyName: aws.String("registry-access"), PolicyDocument: aws.String(doc)})
		if err != nil {
			return fmt.Errorf("PutUserPolicy (%d statements, %d bytes): %w", len(stmts), len(doc), err)
		}
		return nil
	}
	if err := put(stmts[:len(stmts)-1]); err != nil {
		return err
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(authzUser)})
	if err != nil {
		return fmt.Errorf("CreateAccessKey: %w", err)
	}
	auth := basicAuth(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey))
	manifest := t.base + "/v2/" + repoTags + "/manifests/r0"
	get := func(auth string, want int) (string, error) {
		tt := *t
		tt.auth = auth
		buf := make([]byte, 64<<10)
		resp, err := tt.do(ctx, http.MethodGet, manifest, http.Header{"Accept": {acceptAll}}, nil, 0)
		if err != nil || want == http.StatusOK {
			_, err = expect(resp, err, want, buf)
			return "", err
		}
		n, err := expect(resp, err, want, buf)
		return string(buf[:n]), err
	}
	// Only the last statement allows the request: without it, the user is
	// refused, for want of an Allow rather than by a Deny.
	msg, err := get(auth, http.StatusForbidden)
	if err != nil {
		return fmt.Errorf("GET as %s with %d statements: %w", authzUser, len(stmts)-1, err)
	}
	if want := "no identity-based policy allows the ecr:BatchGetImage action"; !strings.Contains(msg, want) {
		return fmt.Errorf("GET as %s with %d statements: refused with %q, want %q", authzUser, len(stmts)-1, msg, want)
	}
	if err := put(stmts); err != nil {
		return err
	}
	if _, err := get(auth, http.StatusOK); err != nil {
		return fmt.Errorf("GET as %s with %d statements: %w", authzUser, len(stmts), err)
	}
	if _, err := get(t.auth, http.StatusOK); err != nil {
		return fmt.Errorf("GET as root under the repository policy: %w", err)
	}
	b.authzAuth = auth
	fmt.Fprintf(b.log, "bench: authz: user %s, %d-statement identity policy, %d-statement repository policy on %s\n",
		authzUser, len(stmts), strings.Count(p.repositoryPolicy(), `"Sid"`), arn)
	return nil
}

// iamClient is the AWS SDK's IAM client for t: endpoint override, Berth's
// root key, retries off.
func (t *target) iamClient() *iam.Client {
	return iam.New(iam.Options{
		Region:       ecrRegion,
		BaseEndpoint: aws.String(t.base),
		Credentials:  credentials.NewStaticCredentialsProvider(t.keyID, t.secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: t.tr},
	})
}

// other returns a, or b when a is taken.
func other(taken, a, b string) string {
	if taken == a {
		return b
	}
	return a
}

// authzParams fill in the policies.
type authzParams struct {
	account, repoARN          string
	otherRegion, otherAccount string
}

func (p authzParams) expand(s string) string {
	return strings.NewReplacer("{account}", p.account, "{repo}", p.repoARN,
		"{other-region}", p.otherRegion, "{other-account}", p.otherAccount, "{user}", authzUser).Replace(s)
}

// identityStatements is the user's policy, as an organisation might write
// it, within IAM's 2,048 characters for a user's inline policies:
// authzStatements statements of which none but the last applies to the
// HEAD (other actions; other repositories, regions and accounts, with
// wildcards and policy variables; Deny statements for other actions and
// repositories; and seven statements whose action and resource match, so
// that their conditions, on aws:SourceIp, aws:CurrentTime and
// aws:PrincipalTag, are evaluated on every request and do not hold), and
// last the Allow of ecr:BatchGetImage on the repository.
func (p authzParams) identityStatements() []string {
	stmts := []string{
		`{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}`,
		`{"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"*"}`,
		`{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}`,
		`{"Effect":"Allow","Action":"ecr:Describe*","Resource":"*"}`,
		`{"Effect":"Allow","Action":"ecr:TagResource","Resource":"*"}`,
		`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/team-a/*"}`,
		`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username}/*"}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:*:*:repository/prod/*"}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:{other-region}:*:repository/*"}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:*:{other-account}:repository/*"}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.8.0.0/16"}}}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2099-01-01"}}}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"data"}}}`,
		`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/env":"dev"}}}`,
		`{"Effect":"Deny","Action":["ecr:Delete*","ecr:Set*"],"Resource":"*"}`,
		`{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:*:*:repository/*/secret*"}`,
		`{"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/locked":"true"}}}`,
		`{"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}}`,
		`{"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2099-12-31"}}}`,
		`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"{repo}"}`,
	}
	for i, s := range stmts {
		stmts[i] = p.expand(s)
	}
	return stmts
}

// repositoryPolicy is repoTags' policy: an Allow for another account, an
// Allow naming the user for other actions, and two Deny statements for
// everyone whose conditions do not hold here (pulls from outside the
// network; pushes by other teams), the first of which is evaluated for
// the root's HEAD too.
func (p authzParams) repositoryPolicy() string {
	return p.expand(`{"Version":"2012-10-17","Statement":[
  {"Sid":"CrossAccountPull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::{other-account}:root"},
   "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]},
  {"Sid":"ReaderListing","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::{account}:user/{user}"},
   "Action":["ecr:DescribeImages","ecr:ListImages"]},
  {"Sid":"DenyPullOutsideNetwork","Effect":"Deny","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],
   "Condition":{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128","10.0.0.0/8"]}}},
  {"Sid":"DenyPushFromOtherTeams","Effect":"Deny","Principal":"*","Action":"ecr:PutImage",
   "Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"platform"}}}
]}`)
}
