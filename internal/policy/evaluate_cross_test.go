package policy

func crossAccountCases() []evalCase {
	b := req(bob, get)
	bobAllow := []string{allowAll}
	regStmt := func(effect, principal, action, resource string) string {
		return `{"Effect":"` + effect + `","Principal":` + principal + `,"Action":` + jsonList(action) +
			`,"Resource":` + jsonList(resource) + `}`
	}
	repos := "arn:aws:ecr:us-east-1:" + acctA + ":repository/*"
	token := "ecr:GetAuthorizationToken"
	return []evalCase{
		// Cross-account: the resource side must allow, and its absence is what AWS reports.
		{name: "cross no policies", req: b, want: implicit, reason: noRSAllow},
		{name: "cross identity only", identity: bobAllow, req: b, want: implicit, reason: noRSAllow},
		// Cross-account: the caller's identity policy must allow too.
		{name: "cross repo account only", repo: doc(rs("Allow", aws(acctB), get)), req: b, want: implicit, reason: noIDAllow},
		{name: "cross repo account + identity", identity: bobAllow, repo: doc(rs("Allow", aws(rootBARN), get)), req: b, want: allow},
		{name: "cross repo account id + identity", identity: bobAllow, repo: doc(rs("Allow", aws(acctB), get)), req: b, want: allow},
		{name: "cross repo user + identity", identity: bobAllow, repo: doc(rs("Allow", aws(bobARN), get)), req: b, want: allow},
		{name: "cross repo user only", repo: doc(rs("Allow", aws(bobARN), get)), req: b, want: implicit, reason: noIDAllow},
		{name: "cross repo * + identity", identity: bobAllow, repo: doc(rs("Allow", `"*"`, get)), req: b, want: allow},
		{name: "cross repo * only", repo: doc(rs("Allow", `"*"`, get)), req: b, want: implicit},
		{name: "cross repo other account", identity: bobAllow, repo: doc(rs("Allow", aws(acctA), get)), req: b, want: implicit, reason: noRSAllow},
		{name: "cross repo list of accounts", identity: bobAllow, repo: doc(rs("Allow", aws(acctA+"|"+rootBARN), get)), req: b, want: allow},
		{name: "cross identity deny", identity: []string{allowAll, doc(st("Deny", get, "*"))}, repo: doc(rs("Allow", aws(acctB), get)), req: b, want: explicit, reason: reasonIdentityDeny},
		{name: "cross repo deny", identity: bobAllow, repo: doc(rs("Allow", aws(acctB), get), rs("Deny", aws(bobARN), get)), req: b, want: explicit, reason: reasonResourceDeny},
		{name: "cross identity scoped to own account", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:*:"+acctB+":repository/*"))}, repo: doc(rs("Allow", aws(acctB), get)), req: b, want: implicit, reason: noIDAllow},
		{name: "cross identity scoped to target", identity: []string{doc(st("Allow", get, repos))}, repo: doc(rs("Allow", aws(acctB), get)), req: b, want: allow},
		// Another account's root: the resource side must allow; its own side counts as allowed.
		{name: "cross root no policy", req: req(rootB, get), want: implicit, reason: noRSAllow},
		{name: "cross root account grant", repo: doc(rs("Allow", aws(rootBARN), get)), req: req(rootB, get), want: allow},
		{name: "cross root user grant only", repo: doc(rs("Allow", aws(bobARN), get)), req: req(rootB, get), want: implicit},
		{name: "cross root *", repo: doc(rs("Allow", `"*"`, get)), req: req(rootB, get), want: allow},
		{name: "cross root denied", repo: doc(rs("Allow", `"*"`, get), rs("Deny", aws(acctB), get)), req: req(rootB, get), want: explicit},

		// Anonymous callers: only statements with Principal "*" apply.
		{name: "anonymous no policy", req: req(anon, get), want: implicit, reason: noRSAllow},
		{name: "anonymous repo *", repo: doc(rs("Allow", `"*"`, get)), req: req(anon, get), want: allow},
		{name: "anonymous repo AWS *", repo: doc(rs("Allow", aws("*"), get)), req: req(anon, get), want: allow},
		{name: "anonymous repo account", repo: doc(rs("Allow", aws(acctA), get)), req: req(anon, get), want: implicit},
		{name: "anonymous repo deny *", repo: doc(rs("Allow", `"*"`, get), rs("Deny", `"*"`, get)), req: req(anon, get), want: explicit},
		{name: "anonymous identity ignored", identity: []string{allowAll}, req: req(anon, get), want: implicit},
		{name: "anonymous NotPrincipal deny", repo: doc(rs("Allow", `"*"`, get), `{"Effect":"Deny","NotPrincipal":`+aws(acctA)+`,"Action":"ecr:*"}`), req: req(anon, get), want: explicit},
		{name: "anonymous condition on username absent", repo: doc(`{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:username":"alice"}}}`), req: req(anon, get), want: implicit},

		// GetAuthorizationToken is authorized by identity policies alone (resource "*").
		{name: "token identity", identity: []string{doc(st("Allow", token, "*"))}, req: req(alice, token, resource("*")), want: allow},
		{name: "token registry allow ignored", registry: doc(regStmt("Allow", aws(aliceARN), "ecr:*", "*")), req: req(alice, token, resource("*")), want: implicit, reason: "because no identity-based policy allows the ecr:GetAuthorizationToken action"},
		{name: "token registry deny ignored", identity: []string{allowAll}, registry: doc(regStmt("Deny", `"*"`, "ecr:*", "*")), req: req(alice, token, resource("*")), want: allow},
		{name: "token needs Resource *", identity: []string{doc(st("Allow", token, repos))}, req: req(alice, token, resource("*")), want: implicit},
		{name: "token cross account", identity: bobAllow, req: req(bob, token, resource("*")), want: allow},
		{name: "token anonymous", repo: doc(rs("Allow", `"*"`, "ecr:*")), req: req(anon, token, resource("*")), want: implicit},
		{name: "token identity deny", identity: []string{allowAll, doc(st("Deny", token, "*"))}, req: req(alice, token, resource("*")), want: explicit},

		// Registry policy (scope V2): a resource-based policy for every ECR action.
		{name: "registry allows user same account", registry: doc(regStmt("Allow", aws(aliceARN), "ecr:*", "*")), req: req(alice, get), want: allow},
		{name: "registry allows account same account", registry: doc(regStmt("Allow", aws(acctA), "ecr:*", "*")), req: req(alice, get), want: implicit},
		{name: "registry cross replicate", identity: bobAllow, registry: doc(regStmt("Allow", aws(rootBARN), "ecr:ReplicateImage|ecr:CreateRepository", repos)), req: req(bob, "ecr:ReplicateImage"), want: allow},
		{name: "registry cross needs identity", registry: doc(regStmt("Allow", aws(rootBARN), "ecr:ReplicateImage", repos)), req: req(bob, "ecr:ReplicateImage"), want: implicit, reason: "because no identity-based policy allows the ecr:ReplicateImage action"},
		{name: "registry allow, repo deny", identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), "ecr:*", repos)), repo: doc(rs("Deny", aws(bobARN), "ecr:*")), req: b, want: explicit},
		{name: "registry deny beats identity", identity: []string{allowAll}, registry: doc(regStmt("Deny", aws(aliceARN), "ecr:*", repos)), req: req(alice, get), want: explicit, reason: reasonResourceDeny},
		{name: "registry deny beats repo allow", identity: bobAllow, repo: doc(rs("Allow", aws(acctB), get)), registry: doc(regStmt("Deny", aws(acctB), "ecr:*", "*")), req: b, want: explicit},
		{name: "registry other region", identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), "ecr:*", "arn:aws:ecr:us-west-2:"+acctA+":repository/*")), req: b, want: implicit, reason: noRSAllow},
		{name: "registry-level action", identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), "ecr:DescribeRegistry", "*")), req: req(bob, "ecr:DescribeRegistry", resource("*")), want: allow},
		{name: "registry repo ARN not registry-level", identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), "ecr:DescribeRegistry", repos)), req: req(bob, "ecr:DescribeRegistry", resource("*")), want: implicit},
		{name: "registry and repo both allow", identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), get, repos)), repo: doc(rs("Allow", aws(acctB), get)), req: b, want: allow},
		{name: "registry PTC prefix", identity: []string{allowAll}, registry: doc(regStmt("Allow", aws(bobARN), "ecr:BatchImportUpstreamImage", "arn:aws:ecr:us-east-1:"+acctA+":repository/ecr-public/*")), req: req(bob, "ecr:BatchImportUpstreamImage", repo("ecr-public/nginx")), want: allow},
		// Scope V1 enforces only ReplicateImage, BatchImportUpstreamImage and CreateRepository.
		{name: "V1 ignores deny for pull", v1: true, identity: []string{allowAll}, registry: doc(regStmt("Deny", `"*"`, "ecr:*", "*")), req: req(alice, get), want: allow},
		{name: "V1 applies deny to CreateRepository", v1: true, identity: []string{allowAll}, registry: doc(regStmt("Deny", `"*"`, "ecr:*", "*")), req: req(alice, "ecr:CreateRepository"), want: explicit},
		{name: "V1 cross CreateRepository", v1: true, identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), "ecr:CreateRepository", repos)), req: req(bob, "ecr:CreateRepository"), want: allow},
		{name: "V1 ignores allow for pull", v1: true, identity: bobAllow, registry: doc(regStmt("Allow", aws(acctB), get, repos)), req: b, want: implicit, reason: noRSAllow},
	}
}
