package identity

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// IAM actions of the managed-policy operations.
const (
	ActionCreatePolicy             = "iam:CreatePolicy"
	ActionGetPolicy                = "iam:GetPolicy"
	ActionGetPolicyVersion         = "iam:GetPolicyVersion"
	ActionListPolicies             = "iam:ListPolicies"
	ActionDeletePolicy             = "iam:DeletePolicy"
	ActionAttachUserPolicy         = "iam:AttachUserPolicy"
	ActionDetachUserPolicy         = "iam:DetachUserPolicy"
	ActionListAttachedUserPolicies = "iam:ListAttachedUserPolicies"
)

// awsManagedDate is the creation date reported for AWS-managed policies.
var awsManagedDate = time.Date(2015, 12, 21, 17, 6, 48, 0, time.UTC)

// CreatePolicyInput is CreatePolicy's request.
type CreatePolicyInput struct {
	PolicyName     string
	Path           string // "" means "/"
	PolicyDocument string
	Description    string
	// Tags are not supported on policies; setting them is an InvalidInput.
	Tags []Tag
}

// CreatePolicy creates a customer-managed policy in the caller's account.
func (s *Service) CreatePolicy(ctx context.Context, who auth.Principal, in CreatePolicyInput) (Policy, error) {
	var c check
	c.required("policyName", in.PolicyName, policyNameType)
	c.optional("path", in.Path, policyPathType)
	c.required("policyDocument", in.PolicyDocument, policyDocumentType)
	c.optional("description", in.Description, policyDescription)
	c.tags("tags", in.Tags)
	if err := c.err(); err != nil {
		return Policy{}, err
	}
	path, acct := cmp.Or(in.Path, "/"), who.AccountID
	if err := s.authorize(ctx, who, ActionCreatePolicy, policyARN(acct, path, in.PolicyName), acct); err != nil {
		return Policy{}, err
	}
	if len(in.Tags) > 0 {
		return Policy{}, errorf(ErrInvalidInput, "Berth does not support tags on managed policies.")
	}
	if err := s.checkDocument(in.PolicyDocument); err != nil {
		return Policy{}, err
	}
	if policySize(in.PolicyDocument) > s.limits.ManagedPolicySize {
		return Policy{}, errorf(ErrLimitExceeded, "Cannot exceed quota for PolicySize: %d", s.limits.ManagedPolicySize)
	}
	id, err := s.newID("ANPA")
	if err != nil {
		return Policy{}, err
	}
	now := s.now().UTC()
	mp := metastore.ManagedPolicy{AccountID: acct, Name: in.PolicyName, ID: id, Path: path,
		Description: in.Description, Document: in.PolicyDocument, CreatedAt: now, UpdatedAt: now}
	switch err := s.store.CreatePolicy(ctx, mp); {
	case errors.Is(err, metastore.ErrAlreadyExists):
		return Policy{}, errorf(ErrEntityAlreadyExists, "A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
	case err != nil:
		return Policy{}, internal("create policy", err)
	}
	return toPolicy(mp), nil
}

// GetPolicy describes a managed policy, customer- or AWS-managed.
func (s *Service) GetPolicy(ctx context.Context, who auth.Principal, arn string) (Policy, error) {
	var c check
	c.required("policyArn", arn, arnType)
	if err := c.err(); err != nil {
		return Policy{}, err
	}
	p, _, err := s.policyFor(ctx, who, ActionGetPolicy, arn)
	if err != nil || !p.AWSManaged {
		return p, err
	}
	counts, err := s.awsAttachments(ctx, who.AccountID)
	if err != nil {
		return Policy{}, err
	}
	p.AttachmentCount = counts[p.ARN]
	return p, nil
}

// GetPolicyVersion returns a version of a managed policy; Berth keeps one.
func (s *Service) GetPolicyVersion(ctx context.Context, who auth.Principal, arn, version string) (PolicyVersion, error) {
	var c check
	c.required("policyArn", arn, arnType)
	c.required("versionId", version, policyVersionIDType)
	if err := c.err(); err != nil {
		return PolicyVersion{}, err
	}
	p, doc, err := s.policyFor(ctx, who, ActionGetPolicyVersion, arn)
	if err != nil {
		return PolicyVersion{}, err
	}
	if version != p.DefaultVersionID {
		return PolicyVersion{}, errorf(ErrNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, version)
	}
	return PolicyVersion{VersionID: version, Document: doc, IsDefault: true, CreatedAt: p.UpdatedAt}, nil
}

// DeletePolicy deletes a customer-managed policy that is attached nowhere.
func (s *Service) DeletePolicy(ctx context.Context, who auth.Principal, arn string) error {
	var c check
	c.required("policyArn", arn, arnType)
	if err := c.err(); err != nil {
		return err
	}
	pa, err := parsePolicyARN(arn)
	if err != nil {
		return err
	}
	if pa.account == awsAccount { // another account's resource: nobody may delete it
		return Denied("User: " + who.ARN() + " is not authorized to perform: " + ActionDeletePolicy +
			" on resource: policy " + arn + " because it is managed by AWS")
	}
	p, _, err := s.policyFor(ctx, who, ActionDeletePolicy, arn)
	if err != nil {
		return err
	}
	switch err := s.store.DeletePolicy(ctx, pa.account, p.Name); {
	case errors.Is(err, metastore.ErrDeleteConflict):
		return errorf(ErrDeleteConflict, "Cannot delete a policy attached to entities.")
	case errors.Is(err, metastore.ErrNotFound):
		return noSuchPolicy(arn)
	case err != nil:
		return internal("delete policy", err)
	}
	return nil
}

// policyFor resolves a policy ARN and authorizes action on it, returning
// the policy and its document. AWS-managed policies are readable from
// every account.
func (s *Service) policyFor(ctx context.Context, who auth.Principal, action, arn string) (Policy, string, error) {
	pa, err := parsePolicyARN(arn)
	if err != nil {
		return Policy{}, "", err
	}
	if pa.account == awsAccount {
		if err := s.authorize(ctx, who, action, arn, who.AccountID); err != nil {
			return Policy{}, "", err
		}
		p, doc, ok := s.awsPolicy(arn)
		if !ok {
			return Policy{}, "", noSuchPolicy(arn)
		}
		return p, doc, nil
	}
	if err := s.authorize(ctx, who, action, arn, pa.account); err != nil {
		return Policy{}, "", err
	}
	mp, err := s.store.GetPolicy(ctx, pa.account, pa.name)
	if errors.Is(err, metastore.ErrNotFound) || err == nil && mp.Path != pa.path {
		return Policy{}, "", noSuchPolicy(arn)
	}
	if err != nil {
		return Policy{}, "", internal("get policy", err)
	}
	return toPolicy(mp), mp.Document, nil
}

// awsPolicy describes an AWS-managed policy of the catalog.
func (s *Service) awsPolicy(arn string) (Policy, string, bool) {
	name, doc, ok := s.managed.Get(arn)
	if !ok {
		return Policy{}, "", false
	}
	path := "/"
	if pa, err := parsePolicyARN(arn); err == nil {
		path = pa.path
	}
	return Policy{Name: name, ID: stableID("ANPA", arn), ARN: arn, Path: path, DefaultVersionID: versionID,
		CreatedAt: awsManagedDate, UpdatedAt: awsManagedDate, AWSManaged: true}, doc, true
}

// awsAttachments counts, per AWS-managed policy, the account's users it is
// attached to. The store keeps no count for policies it does not store, so
// this reads every user's attachments: fine for IAM's admin-rate traffic.
func (s *Service) awsAttachments(ctx context.Context, acct string) (map[string]int, error) {
	counts := map[string]int{}
	const batch = 1000
	for last := ""; ; {
		users, err := s.store.ListUsers(ctx, acct, metastore.Page{Last: last, Limit: batch})
		if err != nil {
			return nil, internal("list users", err)
		}
		for _, u := range users {
			arns, err := s.store.ListAttachedUserPolicies(ctx, acct, u.Name)
			if err != nil {
				return nil, internal("list attached user policies", err)
			}
			for _, a := range arns {
				if strings.HasPrefix(a, arnPrefix+awsAccount+":") {
					counts[a]++
				}
			}
		}
		if len(users) < batch {
			return counts, nil
		}
		last = users[len(users)-1].Name
	}
}

// ListPoliciesInput is ListPolicies' request.
type ListPoliciesInput struct {
	Scope             string // All (""), AWS or Local
	OnlyAttached      bool
	PathPrefix        string
	PolicyUsageFilter string // PermissionsPolicy or PermissionsBoundary; "" means both
	ListOptions
}

// ListPolicies lists managed policies: the AWS-managed ones Berth knows
// first, then the account's own, each ordered by name.
func (s *Service) ListPolicies(ctx context.Context, who auth.Principal, in ListPoliciesInput) (Page[Policy], error) {
	var c check
	c.enum("scope", in.Scope, scopeValues)
	c.enum("policyUsageFilter", in.PolicyUsageFilter, policyUsageValues)
	c.optional("pathPrefix", in.PathPrefix, policyPathType)
	c.page(in.ListOptions)
	if err := c.err(); err != nil {
		return Page[Policy]{}, err
	}
	acct := who.AccountID
	if err := s.authorize(ctx, who, ActionListPolicies, "*", acct); err != nil {
		return Page[Policy]{}, err
	}
	if in.PolicyUsageFilter == "PermissionsBoundary" { // Berth has no permissions boundaries
		return Page[Policy]{}, nil
	}
	after := ""
	if in.Marker != "" {
		var err error
		if after, err = decodeMarker(in.Marker); err != nil {
			return Page[Policy]{}, err
		}
		if !strings.HasPrefix(after, "A:") && !strings.HasPrefix(after, "L:") {
			return Page[Policy]{}, errorf(ErrInvalidInput, "Invalid value for parameter Marker.")
		}
	}
	keep := func(p Policy) bool {
		return strings.HasPrefix(p.Path, in.PathPrefix) && (!in.OnlyAttached || p.AttachmentCount > 0)
	}
	n := pageSize(in.ListOptions)
	var out []Policy
	if in.Scope != "Local" && !strings.HasPrefix(after, "L:") {
		aws, err := s.awsPolicies(ctx, acct)
		if err != nil {
			return Page[Policy]{}, err
		}
		for _, p := range aws {
			if "A:"+p.Name > after && keep(p) {
				out = append(out, p)
			}
		}
	}
	if len(out) > n {
		return Page[Policy]{Items: out[:n], Marker: encodeMarker(policyKey(out[n-1]))}, nil
	}
	if in.Scope == "AWS" {
		return Page[Policy]{Items: out}, nil
	}
	last := ""
	if rest, ok := strings.CutPrefix(after, "L:"); ok {
		last = rest
	}
	return s.appendLocalPolicies(ctx, acct, out, n, last, keep)
}

// appendLocalPolicies completes a ListPolicies page of n items that starts
// with out (AWS-managed policies) with the account's own, after last.
func (s *Service) appendLocalPolicies(ctx context.Context, acct string, out []Policy, n int, last string,
	keep func(Policy) bool,
) (Page[Policy], error) {
	fetch := func(last string, limit int) ([]Policy, error) {
		mps, err := s.store.ListPolicies(ctx, acct, metastore.Page{Last: last, Limit: limit})
		ps := make([]Policy, len(mps))
		for i, mp := range mps {
			ps[i] = toPolicy(mp)
		}
		return ps, err
	}
	// A full page still asks for one local policy, to learn whether more follow.
	local, err := collect(ListOptions{MaxItems: max(n-len(out), 1)}, last, fetch,
		func(p Policy) string { return p.Name }, keep)
	if err != nil {
		return Page[Policy]{}, internal("list policies", err)
	}
	if len(out) == n {
		if len(local.Items) > 0 {
			return Page[Policy]{Items: out, Marker: encodeMarker(policyKey(out[n-1]))}, nil
		}
		return Page[Policy]{Items: out}, nil
	}
	out = append(out, local.Items...)
	if local.Marker != "" {
		return Page[Policy]{Items: out, Marker: encodeMarker(policyKey(out[len(out)-1]))}, nil
	}
	return Page[Policy]{Items: out}, nil
}

// policyKey orders policies in ListPolicies: AWS-managed ones first.
func policyKey(p Policy) string {
	if p.AWSManaged {
		return "A:" + p.Name
	}
	return "L:" + p.Name
}

// awsPolicies lists the catalog by name, with the account's attachment
// counts.
func (s *Service) awsPolicies(ctx context.Context, acct string) ([]Policy, error) {
	arns := s.managed.List()
	if len(arns) == 0 {
		return nil, nil
	}
	counts, err := s.awsAttachments(ctx, acct)
	if err != nil {
		return nil, err
	}
	var out []Policy
	for _, arn := range arns {
		if p, _, ok := s.awsPolicy(arn); ok {
			p.AttachmentCount = counts[arn]
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Policy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func toPolicy(mp metastore.ManagedPolicy) Policy {
	return Policy{Name: mp.Name, ID: mp.ID, ARN: policyARN(mp.AccountID, mp.Path, mp.Name), Path: mp.Path,
		Description: mp.Description, DefaultVersionID: versionID, AttachmentCount: mp.Attachments,
		CreatedAt: mp.CreatedAt, UpdatedAt: mp.UpdatedAt}
}
