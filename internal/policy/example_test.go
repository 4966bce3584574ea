package policy_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/berth-registry/berth/internal/policy"
)

func ExampleEvaluate() {
	readOnly, _ := policy.Managed("AmazonEC2ContainerRegistryReadOnly")
	repoPolicy, err := policy.Parse(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "CrossAccountPull", "Effect": "Allow",
	     "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
	     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]},
	    {"Sid": "OnlyFromOffice", "Effect": "Deny", "Principal": "*", "Action": "ecr:*",
	     "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
	  ]
	}`, policy.Resource)
	if err != nil {
		panic(err)
	}
	req := policy.Request{
		Principal:       policy.UserPrincipal("444455556666", "bob", "AIDABOB"),
		Action:          "ecr:BatchGetImage",
		Resource:        "arn:aws:ecr:us-east-1:111122223333:repository/app",
		ResourceAccount: "111122223333",
		SourceIP:        netip.MustParseAddr("203.0.113.7"),
		SecureTransport: true,
		CurrentTime:     time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC),
	}
	set := policy.PolicySet{Identity: []*policy.Policy{readOnly}, Repository: repoPolicy}
	fmt.Println(policy.Evaluate(req, set).Effect)

	req.SourceIP = netip.MustParseAddr("198.51.100.1")
	d := policy.Evaluate(req, set)
	fmt.Println(d.Effect, "-", d.Reason)
	// Output:
	// Allow
	// ExplicitDeny - with an explicit deny in a resource-based policy
}
