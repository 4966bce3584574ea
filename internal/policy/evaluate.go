package policy

// PolicySet is every policy that applies to one request.
type PolicySet struct {
	// Identity holds the caller's identity policies: inline and attached managed policies
	// (Managed gives the AWS-managed ones). Ignored for the root user and anonymous callers.
	Identity []*Policy
	// Repository is the repository policy of the repository acted on; nil when it has none or
	// the action has no repository.
	Repository *Policy
	// Registry is the registry policy of the registry (account) acted on; nil when none.
	Registry *Policy
	// RegistryScopeV1 limits the registry policy to the three actions REGISTRY_POLICY_SCOPE=V1
	// enforces (ReplicateImage, BatchImportUpstreamImage, CreateRepository). With V2, the
	// default, it applies to every ECR action.
	RegistryScopeV1 bool
}

// Effect is the outcome of an evaluation.
type Effect uint8

const (
	// ImplicitDeny: nothing allows the request (the zero value).
	ImplicitDeny Effect = iota
	// Allow: the request is allowed.
	Allow
	// ExplicitDeny: a Deny statement applies; nothing can override it.
	ExplicitDeny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	default:
		return "ImplicitDeny"
	}
}

// Decision is an evaluation result. Reason completes AWS's AccessDenied message after the
// resource ("... on resource: R " + Reason); it is empty when the request is allowed.
type Decision struct {
	Effect Effect
	Reason string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Message is AWS's full denial text for req ("User: arn is not authorized to perform: ecr:X on
// resource: R because ..."), or "" when allowed.
func (d Decision) Message(req Request) string {
	if d.Allowed() {
		return ""
	}
	who := req.Principal.ARN
	if req.Principal.Type == Anonymous || who == "" {
		who = "anonymous"
	}
	return "User: " + who + " is not authorized to perform: " + req.Action + " on resource: " +
		req.Resource + " " + d.Reason
}

// Reasons, as AWS words them.
const (
	reasonResourceDeny = "with an explicit deny in a resource-based policy"
	reasonIdentityDeny = "with an explicit deny in an identity-based policy"
)

func noIdentityAllow(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

func noResourceAllow(action string) string {
	return "because no resource-based policy allows the " + action + " action"
}

// Evaluate decides req against set, following IAM's evaluation logic as ECR applies it:
//
//   - an explicit Deny in any applicable policy wins;
//   - the root user may do anything in its own account unless a repository or registry policy
//     denies it (identity policies cannot restrict it);
//   - within one account, an Allow in an identity policy, or a repository/registry policy
//     statement naming the caller (its user ARN, or "*"), suffices; a statement naming only
//     the account delegates to the account's identity policies;
//   - across accounts, the repository or registry policy must allow the caller (or its account)
//     and the caller's identity policies must allow the action too (for another account's
//     root user that side counts as allowed);
//   - anonymous callers are allowed only by statements whose Principal is "*";
//   - ecr:GetAuthorizationToken is decided by identity policies alone.
func Evaluate(req Request, set PolicySet) Decision {
	r := &req
	r.resourceParts, r.resourceIsARN = splitARN(r.Resource, false)
	p := &r.Principal
	identityOnly := equalFoldLower(r.Action, "ecr:getauthorizationtoken")

	resAllow := matchNone
	if !identityOnly {
		for _, pol := range [2]*Policy{set.Repository, set.registryFor(r.Action)} {
			if pol == nil {
				continue
			}
			deny, allow := pol.scan(r, true)
			if deny {
				return Decision{Effect: ExplicitDeny, Reason: reasonResourceDeny}
			}
			resAllow = max(resAllow, allow)
		}
	}
	if p.Type == Root && (identityOnly || p.Account == r.ResourceAccount) {
		return Decision{Effect: Allow}
	}

	idAllow := false
	if p.Type == User {
		for _, pol := range set.Identity {
			if pol == nil {
				continue
			}
			deny, allow := pol.scan(r, false)
			if deny {
				return Decision{Effect: ExplicitDeny, Reason: reasonIdentityDeny}
			}
			idAllow = idAllow || allow != matchNone
		}
	}

	switch {
	case identityOnly:
		if idAllow {
			return Decision{Effect: Allow}
		}
		return Decision{Reason: noIdentityAllow(r.Action)}
	case p.Type == Anonymous:
		if resAllow != matchNone {
			return Decision{Effect: Allow}
		}
		return Decision{Reason: noResourceAllow(r.Action)}
	case p.Account == r.ResourceAccount:
		if idAllow || resAllow == matchNamed {
			return Decision{Effect: Allow}
		}
		return Decision{Reason: noIdentityAllow(r.Action)}
	case resAllow == matchNone:
		return Decision{Reason: noResourceAllow(r.Action)}
	case p.Type == Root || idAllow:
		return Decision{Effect: Allow}
	}
	return Decision{Reason: noIdentityAllow(r.Action)}
}

// registryV1Actions are the only actions a V1-scoped registry policy governs.
var registryV1Actions = [...]string{"ecr:replicateimage", "ecr:batchimportupstreamimage", "ecr:createrepository"}

func (s *PolicySet) registryFor(action string) *Policy {
	if s.Registry == nil || !s.RegistryScopeV1 {
		return s.Registry
	}
	for _, a := range registryV1Actions {
		if equalFoldLower(action, a) {
			return s.Registry
		}
	}
	return nil
}

// scan evaluates every statement of p. deny reports an applicable Deny statement; allow is the
// strongest principal match among applicable Allow statements (matchNamed for identity
// policies, whose principal is implicit).
func (p *Policy) scan(r *Request, resourceSide bool) (deny bool, allow principalMatch) {
	for i := range p.statements {
		st := &p.statements[i]
		if !st.deny && allow == matchNamed {
			continue // nothing left for another Allow to add
		}
		m := matchNamed
		if resourceSide {
			if m = st.principalMatch(&r.Principal); m == matchNone {
				continue
			}
		}
		if !st.actionMatch(r.Action) || !st.resourceMatch(r) || !st.conditionsHold(r) {
			continue
		}
		if st.deny {
			return true, allow
		}
		allow = max(allow, m)
	}
	return false, allow
}

func (st *statement) principalMatch(p *Principal) principalMatch {
	if st.notPrincipal {
		if st.principals.excludes(p) {
			return matchNone
		}
		return matchNamed
	}
	return st.principals.match(p)
}

func (st *statement) actionMatch(action string) bool {
	for i := range st.actions {
		if m, _ := st.actions[i].match(action, nil); m {
			return !st.notAction
		}
	}
	return st.notAction
}

// resourceMatch applies Resource/NotResource. A pattern whose policy variable cannot be
// resolved matches nothing; under NotResource it makes the statement inapplicable, since IAM
// treats such a statement as invalid.
func (st *statement) resourceMatch(r *Request) bool {
	if st.anyResource {
		return true
	}
	if st.notResource && st.resourceVars {
		for i := range st.resources {
			if !st.resources[i].resolvable(r) {
				return false
			}
		}
	}
	for i := range st.resources {
		if m, _ := st.resources[i].matchParts(r.Resource, r.resourceParts, r.resourceIsARN, r); m {
			return !st.notResource
		}
	}
	return st.notResource
}

func (st *statement) conditionsHold(r *Request) bool {
	for i := range st.conditions {
		if !st.conditions[i].eval(r) {
			return false
		}
	}
	return true
}
