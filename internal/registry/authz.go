package registry

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/auth"
)

// ECR actions that registry operations are authorized as (spec §1.4).
const (
	ActionBatchCheckLayerAvailability = "ecr:BatchCheckLayerAvailability"
	ActionInitiateLayerUpload         = "ecr:InitiateLayerUpload"
	ActionUploadLayerPart             = "ecr:UploadLayerPart"
	ActionCompleteLayerUpload         = "ecr:CompleteLayerUpload"
	ActionPutImage                    = "ecr:PutImage"
	ActionBatchGetImage               = "ecr:BatchGetImage"
	ActionGetDownloadURLForLayer      = "ecr:GetDownloadUrlForLayer"
	ActionListImages                  = "ecr:ListImages"
	ActionBatchDeleteImage            = "ecr:BatchDeleteImage"
	ActionDescribeRepositories        = "ecr:DescribeRepositories"
	ActionCreateRepository            = "ecr:CreateRepository"
)

// AccessRequest is one authorization question: may Principal perform
// Action on Resource (an ARN) owned by ResourceAccount?
type AccessRequest struct {
	Principal       auth.Principal
	Action          string
	Resource        string
	ResourceAccount string
}

// Authorizer answers AccessRequests. It returns nil to allow, or an error
// wrapping ErrDenied with AWS's message shape.
type Authorizer interface {
	Authorize(ctx context.Context, req AccessRequest) error
}

// AccountAuthorizer allows a principal everything inside its own account and
// nothing elsewhere: the simplest Authorizer, for tests and tools. Berth
// itself authorizes with PolicyAuthorizer.
type AccountAuthorizer struct{}

// Authorize implements Authorizer.
func (AccountAuthorizer) Authorize(_ context.Context, req AccessRequest) error {
	if req.Principal.Type != auth.TypeAnonymous && req.Principal.AccountID == req.ResourceAccount {
		return nil
	}
	return DeniedError(req, "no resource-based policy allows the "+req.Action+" action")
}

// DeniedError builds AWS's denial message.
func DeniedError(req AccessRequest, because string) error {
	return &Error{Kind: ErrDenied, Message: fmt.Sprintf(
		"User: %s is not authorized to perform: %s on resource: %s because %s",
		req.Principal.ARN(), req.Action, req.Resource, because)}
}

// AuthorizeRegistry authorizes an action that has no repository resource
// (GetAuthorizationToken, DescribeRegistry, registry policy and settings):
// the resource is "*" in the account, as in IAM's ECR action table.
func (s *Service) AuthorizeRegistry(ctx context.Context, who auth.Principal, action, accountID string) error {
	return s.authz.Authorize(ctx, AccessRequest{Principal: who, Action: action, Resource: "*", ResourceAccount: accountID})
}
