package iamapi

import "github.com/berth-registry/berth/internal/identity"

// XML shapes of IAM's responses (iam-2010-05-08 model). Lists are
// <Name><member>…</member></Name>; a list that is always present in IAM's
// answers is a members value (sent even when empty), an optional one a
// pointer.

type members[T any] struct {
	Member []T `xml:"member"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type userXML struct {
	Path       string           `xml:"Path,omitempty"`
	UserName   string           `xml:"UserName,omitempty"`
	UserID     string           `xml:"UserId"`
	Arn        string           `xml:"Arn"`
	CreateDate isoTime          `xml:"CreateDate"`
	Tags       *members[tagXML] `xml:"Tags,omitempty"`
}

// toUserXML converts a user; withTags is false for listings, which IAM
// answers without tags.
func toUserXML(u identity.User, withTags bool) userXML {
	out := userXML{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: isoTime(u.CreatedAt)}
	if withTags && len(u.Tags) > 0 {
		out.Tags = &members[tagXML]{}
		for _, t := range u.Tags {
			out.Tags.Member = append(out.Tags.Member, tagXML(t))
		}
	}
	return out
}

type userResult struct {
	User userXML `xml:"User"`
}

type listUsersResult struct {
	Users       members[userXML] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

type accessKeyXML struct {
	UserName        string  `xml:"UserName,omitempty"`
	AccessKeyID     string  `xml:"AccessKeyId"`
	Status          string  `xml:"Status"`
	SecretAccessKey string  `xml:"SecretAccessKey,omitempty"`
	CreateDate      isoTime `xml:"CreateDate"`
}

func toAccessKeyXML(k identity.AccessKey) accessKeyXML {
	return accessKeyXML{UserName: k.UserName, AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: k.Secret,
		CreateDate: isoTime(k.CreatedAt)}
}

type createAccessKeyResult struct {
	AccessKey accessKeyXML `xml:"AccessKey"`
}

type listAccessKeysResult struct {
	AccessKeyMetadata members[accessKeyXML] `xml:"AccessKeyMetadata"`
	IsTruncated       bool                  `xml:"IsTruncated"`
	Marker            string                `xml:"Marker,omitempty"`
}

type getUserPolicyResult struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"` // URL-encoded, as IAM sends it
}

type listUserPoliciesResult struct {
	PolicyNames members[string] `xml:"PolicyNames"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

type policyXML struct {
	PolicyName                    string  `xml:"PolicyName"`
	DefaultVersionID              string  `xml:"DefaultVersionId"`
	PolicyID                      string  `xml:"PolicyId"`
	Path                          string  `xml:"Path"`
	Arn                           string  `xml:"Arn"`
	AttachmentCount               int     `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int     `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool    `xml:"IsAttachable"`
	Description                   string  `xml:"Description,omitempty"`
	CreateDate                    isoTime `xml:"CreateDate"`
	UpdateDate                    isoTime `xml:"UpdateDate"`
}

func toPolicyXML(p identity.Policy) policyXML {
	return policyXML{PolicyName: p.Name, DefaultVersionID: p.DefaultVersionID, PolicyID: p.ID, Path: p.Path,
		Arn: p.ARN, AttachmentCount: p.AttachmentCount, IsAttachable: true, Description: p.Description,
		CreateDate: isoTime(p.CreatedAt), UpdateDate: isoTime(p.UpdatedAt)}
}

type policyResult struct {
	Policy policyXML `xml:"Policy"`
}

type listPoliciesResult struct {
	Policies    members[policyXML] `xml:"Policies"`
	IsTruncated bool               `xml:"IsTruncated"`
	Marker      string             `xml:"Marker,omitempty"`
}

type policyVersionXML struct {
	Document         string  `xml:"Document"` // URL-encoded, as IAM sends it
	VersionID        string  `xml:"VersionId"`
	IsDefaultVersion bool    `xml:"IsDefaultVersion"`
	CreateDate       isoTime `xml:"CreateDate"`
}

type policyVersionResult struct {
	PolicyVersion policyVersionXML `xml:"PolicyVersion"`
}

type attachedPolicyXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedUserPoliciesResult struct {
	AttachedPolicies members[attachedPolicyXML] `xml:"AttachedPolicies"`
	IsTruncated      bool                       `xml:"IsTruncated"`
	Marker           string                     `xml:"Marker,omitempty"`
}
