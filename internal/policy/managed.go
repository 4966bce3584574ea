package policy

import (
	"sort"
	"sync"
)

// The AWS-managed ECR policies, as published in the AWS Managed Policy Reference
// (docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html) and the ECR user guide
// page "AWS managed policies for Amazon Elastic Container Registry":
//
//   - AmazonEC2ContainerRegistryReadOnly v3 (edited 2019-12-10) and
//     AmazonEC2ContainerRegistryPowerUser v3 (edited 2019-12-10): copied action for action.
//   - AmazonEC2ContainerRegistryPullOnly v1 (created 2024-10-04): the reference page lists
//     GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer and, for pull through cache,
//     BatchImportUpstreamImage (the copy consulted was cut after the third action; the fourth
//     is from the ECR user guide's description of the policy).
//   - AmazonEC2ContainerRegistryFullAccess: ECR statements only, so "ecr:*" without the
//     published cloudtrail:LookupEvents action and iam:CreateServiceLinkedRole statement,
//     which Berth has no services for.
var managedDocuments = map[string]string{
	"AmazonEC2ContainerRegistryReadOnly": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy",
        "ecr:DescribeRepositories",
        "ecr:ListImages",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:GetLifecyclePolicy",
        "ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource",
        "ecr:DescribeImageScanFindings"
      ],
      "Resource": "*"
    }
  ]
}`,
	"AmazonEC2ContainerRegistryPullOnly": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchImportUpstreamImage"
      ],
      "Resource": "*"
    }
  ]
}`,
	"AmazonEC2ContainerRegistryPowerUser": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy",
        "ecr:DescribeRepositories",
        "ecr:ListImages",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:GetLifecyclePolicy",
        "ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource",
        "ecr:DescribeImageScanFindings",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage"
      ],
      "Resource": "*"
    }
  ]
}`,
	"AmazonEC2ContainerRegistryFullAccess": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:*"
      ],
      "Resource": "*"
    }
  ]
}`,
}

// managedPolicies parses the documents once; the result is read-only.
var managedPolicies = sync.OnceValue(func() map[string]*Policy {
	out := make(map[string]*Policy, len(managedDocuments))
	for name, text := range managedDocuments {
		p, err := Parse(text, Identity)
		if err != nil {
			panic("policy: built-in managed policy " + name + ": " + err.Error())
		}
		out[name] = p
	}
	return out
})

// ManagedARNPrefix prefixes the ARN of every AWS-managed policy.
const ManagedARNPrefix = "arn:aws:iam::aws:policy/"

// Managed returns a built-in AWS-managed policy by name ("AmazonEC2ContainerRegistryReadOnly")
// or ARN ("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly").
func Managed(nameOrARN string) (*Policy, bool) {
	name := nameOrARN
	if len(name) > len(ManagedARNPrefix) && name[:len(ManagedARNPrefix)] == ManagedARNPrefix {
		name = name[len(ManagedARNPrefix):]
	}
	p, ok := managedPolicies()[name]
	return p, ok
}

// ManagedNames lists the built-in managed policies, sorted.
func ManagedNames() []string {
	names := make([]string, 0, len(managedDocuments))
	for name := range managedDocuments {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ManagedARN is the ARN of the managed policy name.
func ManagedARN(name string) string { return ManagedARNPrefix + name }
