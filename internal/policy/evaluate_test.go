package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// The evaluation table. Each case names the AWS rule it checks in a comment; the rules come
// from the IAM User Guide (policy evaluation logic, cross-account evaluation, Principal and
// NotPrincipal, condition operators, single- vs multi-valued keys, policy variables) and the
// ECR User Guide (repository policies, registry permissions, GetAuthorizationToken).

const (
	acctA = "111122223333" // the registry's account
	acctB = "444455556666" // another account
)

var now = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

var (
	alice = func() Principal {
		p := UserPrincipal(acctA, "alice", "AIDAALICE")
		p.Tags = map[string]string{"dept": "eng", "level": "3", "flag": "true", "blob": "hello", "star": "*"}
		return p
	}()
	carol = UserPrincipal(acctA, "carol", "AIDACAROL")
	bob   = UserPrincipal(acctB, "bob", "AIDABOB")
	rootA = RootPrincipal(acctA)
	rootB = RootPrincipal(acctB)
	anon  = Principal{Type: Anonymous}
)

func repoARN(acct, name string) string {
	return "arn:aws:ecr:us-east-1:" + acct + ":repository/" + name
}

// req builds a request on repository "app" of account A with a full context.
func req(p Principal, action string, opts ...func(*Request)) Request {
	r := Request{
		Principal: p, Action: action, Resource: repoARN(acctA, "app"), ResourceAccount: acctA,
		ResourceTags:    map[string]string{"env": "prod", "owner": "alice", "expires": "2030-01-01T00:00:00Z"},
		RequestTags:     map[string]string{"team": "blue"},
		TagKeys:         []string{"team", "cost"},
		SourceIP:        netip.MustParseAddr("203.0.113.10"),
		SecureTransport: true,
		CurrentTime:     now,
		Extra:           map[string]string{"ecr:AccountSetting": "BASIC_SCAN_TYPE_VERSION"},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func repo(name string) func(*Request) {
	return func(r *Request) { r.Resource = repoARN(acctA, name) }
}
func resource(arn string) func(*Request) { return func(r *Request) { r.Resource = arn } }
func ip(s string) func(*Request) {
	return func(r *Request) {
		r.SourceIP = netip.Addr{}
		if s != "" {
			r.SourceIP = netip.MustParseAddr(s)
		}
	}
}
func insecure(r *Request) { r.SecureTransport = false }
func noClock(r *Request)  { r.CurrentTime = time.Time{} }
func tagKeys(keys ...string) func(*Request) {
	return func(r *Request) { r.TagKeys = keys }
}
func rtag(k, v string) func(*Request) {
	return func(r *Request) { r.ResourceTags = map[string]string{k: v} }
}
func ptag(k, v string) func(*Request) {
	return func(r *Request) {
		r.Principal.Tags = map[string]string{k: v}
	}
}

// doc wraps statements in a 2012-10-17 policy document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// st is an identity-policy statement.
func st(effect, action, resource string) string {
	return `{"Effect":"` + effect + `","Action":` + jsonList(action) + `,"Resource":` + jsonList(resource) + `}`
}

// rs is a resource-policy statement without Resource; principal is raw JSON.
func rs(effect, principal, action string) string {
	return `{"Effect":"` + effect + `","Principal":` + principal + `,"Action":` + jsonList(action) + `}`
}

// jsonList turns "a|b" into ["a","b"] and "a" into "a".
func jsonList(s string) string {
	if !strings.Contains(s, "|") {
		return `"` + s + `"`
	}
	return `["` + strings.Join(strings.Split(s, "|"), `","`) + `"]`
}

func aws(arns string) string { return `{"AWS":` + jsonList(arns) + `}` }

var (
	allowAll  = doc(st("Allow", "ecr:*", "*"))
	aliceARN  = "arn:aws:iam::" + acctA + ":user/alice"
	bobARN    = "arn:aws:iam::" + acctB + ":user/bob"
	rootAARN  = "arn:aws:iam::" + acctA + ":root"
	rootBARN  = "arn:aws:iam::" + acctB + ":root"
	noIDAllow = "because no identity-based policy allows the ecr:BatchGetImage action"
	noRSAllow = "because no resource-based policy allows the ecr:BatchGetImage action"
)

type evalCase struct {
	name     string
	identity []string // documents, or "managed:<name>"
	repo     string
	registry string
	v1       bool
	req      Request
	want     Effect
	reason   string // checked when set
}

const (
	allow    = Allow
	implicit = ImplicitDeny
	explicit = ExplicitDeny
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cases := slices.Concat(accessCases(), crossAccountCases(), conditionCases(), qualifierCases(), variableCases())
	if len(cases) < 150 {
		t.Fatalf("only %d evaluation cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			set := PolicySet{RegistryScopeV1: c.v1}
			for _, text := range c.identity {
				if name, ok := strings.CutPrefix(text, "managed:"); ok {
					p, found := Managed(name)
					if !found {
						t.Fatalf("no managed policy %s", name)
					}
					set.Identity = append(set.Identity, p)
					continue
				}
				set.Identity = append(set.Identity, mustParse(t, text, Identity))
			}
			if c.repo != "" {
				set.Repository = mustParse(t, c.repo, Resource)
			}
			if c.registry != "" {
				set.Registry = mustParse(t, c.registry, Registry)
			}
			got := Evaluate(c.req, set)
			if got.Effect != c.want {
				t.Fatalf("Evaluate = %v (%s), want %v", got.Effect, got.Reason, c.want)
			}
			if c.reason != "" && got.Reason != c.reason {
				t.Fatalf("Reason = %q, want %q", got.Reason, c.reason)
			}
			if got.Allowed() != (got.Reason == "") {
				t.Fatalf("Reason %q does not fit effect %v", got.Reason, got.Effect)
			}
		})
	}
}

func mustParse(t testing.TB, text string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(text, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v\n%s", kind, err, text)
	}
	return p
}

const get = "ecr:BatchGetImage"

func accessCases() []evalCase {
	a := req(alice, get)
	return []evalCase{
		// Default is implicit deny; same-account message names identity policies.
		{name: "no policies", req: a, want: implicit, reason: noIDAllow},
		// An identity-policy Allow grants within the account.
		{name: "identity exact", identity: []string{doc(st("Allow", get, repoARN(acctA, "app")))}, req: a, want: allow},
		{name: "identity service wildcard", identity: []string{allowAll}, req: a, want: allow},
		{name: "identity prefix wildcard", identity: []string{doc(st("Allow", "ecr:Batch*", "*"))}, req: a, want: allow},
		{name: "identity ? wildcard", identity: []string{doc(st("Allow", "ecr:Batch?etImage", "*"))}, req: a, want: allow},
		// Action names are case-insensitive.
		{name: "action case-insensitive", identity: []string{doc(st("Allow", "ECR:batchgetimage", "*"))}, req: a, want: allow},
		{name: "other action", identity: []string{doc(st("Allow", "ecr:PutImage", "*"))}, req: a, want: implicit},
		{name: "action *", identity: []string{doc(st("Allow", "*", "*"))}, req: a, want: allow},
		// NotAction matches every action except those listed.
		{name: "NotAction excludes other", identity: []string{doc(`{"Effect":"Allow","NotAction":"ecr:PutImage","Resource":"*"}`)}, req: a, want: allow},
		{name: "NotAction excludes this", identity: []string{doc(`{"Effect":"Allow","NotAction":"ecr:Batch*","Resource":"*"}`)}, req: a, want: implicit},
		// Resource ARNs match segment by segment with * and ?, case-sensitively.
		{name: "resource repository/*", identity: []string{doc(st("Allow", get, "arn:aws:ecr:us-east-1:"+acctA+":repository/*"))}, req: a, want: allow},
		{name: "resource region *", identity: []string{doc(st("Allow", get, "arn:aws:ecr:*:"+acctA+":repository/app"))}, req: a, want: allow},
		{name: "resource account *", identity: []string{doc(st("Allow", get, "arn:aws:ecr:us-east-1:*:repository/app"))}, req: a, want: allow},
		{name: "resource ?", identity: []string{doc(st("Allow", get, repoARN(acctA, "ap?")))}, req: a, want: allow},
		{name: "resource case-sensitive", identity: []string{doc(st("Allow", get, repoARN(acctA, "APP")))}, req: a, want: implicit},
		{name: "resource other repo", identity: []string{doc(st("Allow", get, repoARN(acctA, "other")))}, req: a, want: implicit},
		{name: "resource prefix match", identity: []string{doc(st("Allow", get, repoARN(acctA, "prod-*")))}, req: req(alice, get, repo("prod-api")), want: allow},
		{name: "resource prefix miss", identity: []string{doc(st("Allow", get, repoARN(acctA, "prod-*")))}, req: a, want: implicit},
		{name: "resource list", identity: []string{doc(st("Allow", get, repoARN(acctA, "x")+"|"+repoARN(acctA, "app")))}, req: a, want: allow},
		{name: "resource other account", identity: []string{doc(st("Allow", get, repoARN(acctB, "app")))}, req: a, want: implicit},
		// NotResource matches every resource except those listed.
		{name: "NotResource other", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","NotResource":"` + repoARN(acctA, "secret") + `"}`)}, req: a, want: allow},
		{name: "NotResource this", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","NotResource":"` + repoARN(acctA, "app") + `"}`)}, req: a, want: implicit},
		// Statement may be a single object.
		{name: "single statement object", identity: []string{`{"Version":"2012-10-17","Statement":` + st("Allow", get, "*") + `}`}, req: a, want: allow},
		// Version 2008-10-17 is still evaluated.
		{name: "version 2008", identity: []string{`{"Version":"2008-10-17","Statement":[` + st("Allow", get, "*") + `]}`}, req: a, want: allow},
		// An explicit Deny overrides any Allow.
		{name: "identity deny wins", identity: []string{doc(st("Allow", "ecr:*", "*"), st("Deny", get, "*"))}, req: a, want: explicit, reason: reasonIdentityDeny},
		{name: "deny in second policy", identity: []string{allowAll, doc(st("Deny", "ecr:Batch*", "*"))}, req: a, want: explicit, reason: reasonIdentityDeny},
		{name: "deny NotAction spares", identity: []string{allowAll, doc(`{"Effect":"Deny","NotAction":"ecr:BatchGetImage","Resource":"*"}`)}, req: a, want: allow},
		{name: "deny NotAction hits", identity: []string{allowAll, doc(`{"Effect":"Deny","NotAction":"ecr:BatchGetImage","Resource":"*"}`)}, req: req(alice, "ecr:PutImage"), want: explicit},
		{name: "deny other resource", identity: []string{allowAll, doc(st("Deny", "*", repoARN(acctA, "secret")))}, req: a, want: allow},
		// A Deny whose condition does not hold does not apply.
		{name: "deny condition false", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)}, req: a, want: allow},
		{name: "deny condition true", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)}, req: req(alice, get, insecure), want: explicit},
		// AWS-managed ECR policies.
		{name: "ReadOnly pull", identity: []string{"managed:AmazonEC2ContainerRegistryReadOnly"}, req: a, want: allow},
		{name: "ReadOnly push", identity: []string{"managed:AmazonEC2ContainerRegistryReadOnly"}, req: req(alice, "ecr:PutImage"), want: implicit},
		{name: "ReadOnly token", identity: []string{"managed:AmazonEC2ContainerRegistryReadOnly"}, req: req(alice, "ecr:GetAuthorizationToken", resource("*")), want: allow},
		{name: "PowerUser push", identity: []string{"managed:AmazonEC2ContainerRegistryPowerUser"}, req: req(alice, "ecr:PutImage"), want: allow},
		{name: "PowerUser delete repo", identity: []string{"managed:AmazonEC2ContainerRegistryPowerUser"}, req: req(alice, "ecr:DeleteRepository"), want: implicit},
		{name: "PullOnly import", identity: []string{"managed:" + ManagedARN("AmazonEC2ContainerRegistryPullOnly")}, req: req(alice, "ecr:BatchImportUpstreamImage"), want: allow},
		{name: "PullOnly list", identity: []string{"managed:AmazonEC2ContainerRegistryPullOnly"}, req: req(alice, "ecr:ListImages"), want: implicit},
		{name: "FullAccess delete repo", identity: []string{"managed:AmazonEC2ContainerRegistryFullAccess"}, req: req(alice, "ecr:DeleteRepository"), want: allow},

		// Same account: a repository policy naming the user suffices without identity policy.
		{name: "repo names user", repo: doc(rs("Allow", aws(aliceARN), get)), req: a, want: allow},
		{name: "repo Principal *", repo: doc(rs("Allow", `"*"`, get)), req: a, want: allow},
		{name: "repo AWS *", repo: doc(rs("Allow", aws("*"), get)), req: a, want: allow},
		// Naming the account (root ARN or id) delegates to identity policies.
		{name: "repo names account root", repo: doc(rs("Allow", aws(rootAARN), get)), req: a, want: implicit, reason: noIDAllow},
		{name: "repo names account id", repo: doc(rs("Allow", aws(acctA), get)), req: a, want: implicit},
		{name: "repo account + identity", identity: []string{allowAll}, repo: doc(rs("Allow", aws(rootAARN), get)), req: a, want: allow},
		// An explicit Deny in a resource-based policy wins over identity Allow.
		{name: "repo denies user", identity: []string{allowAll}, repo: doc(rs("Deny", aws(aliceARN), get)), req: a, want: explicit, reason: reasonResourceDeny},
		{name: "repo deny account covers users", identity: []string{allowAll}, repo: doc(rs("Deny", aws(rootAARN), "ecr:*")), req: a, want: explicit},
		{name: "repo deny outside CIDR", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`), req: req(alice, get, ip("198.51.100.7")), want: explicit},
		{name: "repo deny inside CIDR spared", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`), req: a, want: allow},
		{name: "repo names other user", repo: doc(rs("Allow", aws("arn:aws:iam::"+acctA+":user/carol"), get)), req: a, want: implicit},
		{name: "repo other action", repo: doc(rs("Allow", aws(aliceARN), "ecr:PutImage")), req: a, want: implicit},
		{name: "repo stmt other resource", repo: doc(`{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"` + repoARN(acctA, "other") + `"}`), req: a, want: implicit},
		{name: "repo stmt this resource", repo: doc(`{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"` + repoARN(acctA, "app") + `"}`), req: a, want: allow},
		{name: "repo 2008 version", repo: `{"Version":"2008-10-17","Statement":[` + rs("Allow", aws(aliceARN), get) + `]}`, req: a, want: allow},
		// NotPrincipal with Deny: exempt only if the user and its account are both listed.
		{name: "NotPrincipal user+account exempt", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","NotPrincipal":` + aws(aliceARN+"|"+rootAARN) + `,"Action":"ecr:*"}`), req: a, want: allow},
		{name: "NotPrincipal user only denies", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","NotPrincipal":` + aws(aliceARN) + `,"Action":"ecr:*"}`), req: a, want: explicit},
		{name: "NotPrincipal account only denies user", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","NotPrincipal":` + aws(acctA) + `,"Action":"ecr:*"}`), req: a, want: explicit},
		{name: "NotPrincipal account exempts root", repo: doc(`{"Effect":"Deny","NotPrincipal":` + aws(acctA) + `,"Action":"ecr:*"}`), req: req(rootA, get), want: allow},
		{name: "NotPrincipal * exempts all", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","NotPrincipal":"*","Action":"ecr:*"}`), req: a, want: allow},
		{name: "NotPrincipal other user denies carol", identity: []string{allowAll}, repo: doc(`{"Effect":"Deny","NotPrincipal":` + aws(aliceARN+"|"+rootAARN) + `,"Action":"ecr:*"}`), req: req(carol, get), want: explicit},

		// The root user has full access in its own account; identity policies cannot restrict it.
		{name: "root no policies", req: req(rootA, get), want: allow},
		{name: "root ignores identity deny", identity: []string{doc(st("Deny", "*", "*"))}, req: req(rootA, get), want: allow},
		// Resource-based policies can deny the root user.
		{name: "root repo deny *", repo: doc(rs("Deny", `"*"`, "ecr:*")), req: req(rootA, get), want: explicit, reason: reasonResourceDeny},
		{name: "root repo deny root", repo: doc(rs("Deny", aws(rootAARN), get)), req: req(rootA, get), want: explicit},
		{name: "root registry deny", registry: doc(`{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*"}`), req: req(rootA, get), want: explicit},
		{name: "root deny by condition on missing username", repo: doc(`{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:username":"alice"}}}`), req: req(rootA, get), want: allow},
		{name: "root token", req: req(rootA, "ecr:GetAuthorizationToken", resource("*")), want: allow},
	}
}
