package iamapi

import (
	"context"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/identity"
)

// iamOperations is the dispatch table of the IAM actions Berth serves.
func (h *Handler) iamOperations() map[string]opFunc {
	return map[string]opFunc{
		"CreateUser":               h.createUser,
		"GetUser":                  h.getUser,
		"ListUsers":                h.listUsers,
		"DeleteUser":               h.deleteUser,
		"TagUser":                  h.tagUser,
		"UntagUser":                h.untagUser,
		"CreateAccessKey":          h.createAccessKey,
		"ListAccessKeys":           h.listAccessKeys,
		"UpdateAccessKey":          h.updateAccessKey,
		"DeleteAccessKey":          h.deleteAccessKey,
		"PutUserPolicy":            h.putUserPolicy,
		"GetUserPolicy":            h.getUserPolicy,
		"ListUserPolicies":         h.listUserPolicies,
		"DeleteUserPolicy":         h.deleteUserPolicy,
		"CreatePolicy":             h.createPolicy,
		"GetPolicy":                h.getPolicy,
		"GetPolicyVersion":         h.getPolicyVersion,
		"ListPolicies":             h.listPolicies,
		"DeletePolicy":             h.deletePolicy,
		"AttachUserPolicy":         h.attachUserPolicy,
		"DetachUserPolicy":         h.detachUserPolicy,
		"ListAttachedUserPolicies": h.listAttachedUserPolicies,
	}
}

// none is the result of actions that answer only with ResponseMetadata.
func none(err error) (any, error) { return nil, err }

func (h *Handler) createUser(ctx context.Context, who auth.Principal, p params) (any, error) {
	u, err := h.svc.CreateUser(ctx, who, identity.CreateUserInput{UserName: p.str("UserName"), Path: p.str("Path"),
		Tags: p.tags("Tags"), PermissionsBoundary: p.str("PermissionsBoundary")})
	if err != nil {
		return nil, err
	}
	return userResult{toUserXML(u, true)}, nil
}

func (h *Handler) getUser(ctx context.Context, who auth.Principal, p params) (any, error) {
	u, err := h.svc.GetUser(ctx, who, p.str("UserName"))
	if err != nil {
		return nil, err
	}
	return userResult{toUserXML(u, true)}, nil
}

func (h *Handler) listUsers(ctx context.Context, who auth.Principal, p params) (any, error) {
	o, err := p.page()
	if err != nil {
		return nil, err
	}
	pg, err := h.svc.ListUsers(ctx, who, p.str("PathPrefix"), o)
	if err != nil {
		return nil, err
	}
	out := listUsersResult{IsTruncated: pg.Marker != "", Marker: pg.Marker}
	for _, u := range pg.Items {
		out.Users.Member = append(out.Users.Member, toUserXML(u, false))
	}
	return out, nil
}

func (h *Handler) deleteUser(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.DeleteUser(ctx, who, p.str("UserName")))
}

func (h *Handler) tagUser(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.TagUser(ctx, who, p.str("UserName"), p.tags("Tags")))
}

func (h *Handler) untagUser(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.UntagUser(ctx, who, p.str("UserName"), p.list("TagKeys")))
}

func (h *Handler) createAccessKey(ctx context.Context, who auth.Principal, p params) (any, error) {
	k, err := h.svc.CreateAccessKey(ctx, who, p.str("UserName"))
	if err != nil {
		return nil, err
	}
	return createAccessKeyResult{toAccessKeyXML(k)}, nil
}

func (h *Handler) listAccessKeys(ctx context.Context, who auth.Principal, p params) (any, error) {
	o, err := p.page()
	if err != nil {
		return nil, err
	}
	pg, err := h.svc.ListAccessKeys(ctx, who, p.str("UserName"), o)
	if err != nil {
		return nil, err
	}
	out := listAccessKeysResult{IsTruncated: pg.Marker != "", Marker: pg.Marker}
	for _, k := range pg.Items {
		out.AccessKeyMetadata.Member = append(out.AccessKeyMetadata.Member, toAccessKeyXML(k))
	}
	return out, nil
}

func (h *Handler) updateAccessKey(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.UpdateAccessKey(ctx, who, p.str("UserName"), p.str("AccessKeyId"), p.str("Status")))
}

func (h *Handler) deleteAccessKey(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.DeleteAccessKey(ctx, who, p.str("UserName"), p.str("AccessKeyId")))
}

func (h *Handler) putUserPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.PutUserPolicy(ctx, who, p.str("UserName"), p.str("PolicyName"), p.str("PolicyDocument")))
}

func (h *Handler) getUserPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	ip, err := h.svc.GetUserPolicy(ctx, who, p.str("UserName"), p.str("PolicyName"))
	if err != nil {
		return nil, err
	}
	return getUserPolicyResult{UserName: ip.UserName, PolicyName: ip.Name, PolicyDocument: encodeDocument(ip.Document)}, nil
}

func (h *Handler) listUserPolicies(ctx context.Context, who auth.Principal, p params) (any, error) {
	o, err := p.page()
	if err != nil {
		return nil, err
	}
	pg, err := h.svc.ListUserPolicies(ctx, who, p.str("UserName"), o)
	if err != nil {
		return nil, err
	}
	return listUserPoliciesResult{PolicyNames: members[string]{pg.Items}, IsTruncated: pg.Marker != "", Marker: pg.Marker}, nil
}

func (h *Handler) deleteUserPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.DeleteUserPolicy(ctx, who, p.str("UserName"), p.str("PolicyName")))
}

func (h *Handler) createPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	pol, err := h.svc.CreatePolicy(ctx, who, identity.CreatePolicyInput{PolicyName: p.str("PolicyName"),
		Path: p.str("Path"), PolicyDocument: p.str("PolicyDocument"), Description: p.str("Description"),
		Tags: p.tags("Tags")})
	if err != nil {
		return nil, err
	}
	return policyResult{toPolicyXML(pol)}, nil
}

func (h *Handler) getPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	pol, err := h.svc.GetPolicy(ctx, who, p.str("PolicyArn"))
	if err != nil {
		return nil, err
	}
	return policyResult{toPolicyXML(pol)}, nil
}

func (h *Handler) getPolicyVersion(ctx context.Context, who auth.Principal, p params) (any, error) {
	v, err := h.svc.GetPolicyVersion(ctx, who, p.str("PolicyArn"), p.str("VersionId"))
	if err != nil {
		return nil, err
	}
	return policyVersionResult{policyVersionXML{Document: encodeDocument(v.Document), VersionID: v.VersionID,
		IsDefaultVersion: v.IsDefault, CreateDate: isoTime(v.CreatedAt)}}, nil
}

func (h *Handler) listPolicies(ctx context.Context, who auth.Principal, p params) (any, error) {
	o, err := p.page()
	if err != nil {
		return nil, err
	}
	attached, err := p.boolean("OnlyAttached")
	if err != nil {
		return nil, err
	}
	pg, err := h.svc.ListPolicies(ctx, who, identity.ListPoliciesInput{Scope: p.str("Scope"), OnlyAttached: attached,
		PathPrefix: p.str("PathPrefix"), PolicyUsageFilter: p.str("PolicyUsageFilter"), ListOptions: o})
	if err != nil {
		return nil, err
	}
	out := listPoliciesResult{IsTruncated: pg.Marker != "", Marker: pg.Marker}
	for _, pol := range pg.Items {
		out.Policies.Member = append(out.Policies.Member, toPolicyXML(pol))
	}
	return out, nil
}

func (h *Handler) deletePolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.DeletePolicy(ctx, who, p.str("PolicyArn")))
}

func (h *Handler) attachUserPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.AttachUserPolicy(ctx, who, p.str("UserName"), p.str("PolicyArn")))
}

func (h *Handler) detachUserPolicy(ctx context.Context, who auth.Principal, p params) (any, error) {
	return none(h.svc.DetachUserPolicy(ctx, who, p.str("UserName"), p.str("PolicyArn")))
}

func (h *Handler) listAttachedUserPolicies(ctx context.Context, who auth.Principal, p params) (any, error) {
	o, err := p.page()
	if err != nil {
		return nil, err
	}
	pg, err := h.svc.ListAttachedUserPolicies(ctx, who, p.str("UserName"), p.str("PathPrefix"), o)
	if err != nil {
		return nil, err
	}
	out := listAttachedUserPoliciesResult{IsTruncated: pg.Marker != "", Marker: pg.Marker}
	for _, a := range pg.Items {
		out.AttachedPolicies.Member = append(out.AttachedPolicies.Member, attachedPolicyXML{PolicyName: a.Name, PolicyArn: a.ARN})
	}
	return out, nil
}
