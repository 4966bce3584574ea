package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// PrincipalType is the kind of identity making a request.
type PrincipalType uint8

const (
	// Anonymous is an unauthenticated caller.
	Anonymous PrincipalType = iota
	// Root is an account's root user.
	Root
	// User is an IAM user.
	User
)

// Principal is who makes a request, as the policy language sees it.
type Principal struct {
	Type    PrincipalType
	Account string // 12-digit account id; "" for Anonymous
	// ARN is the principal's IAM ARN: arn:aws:iam::<account>:user/<path><name> for users,
	// arn:aws:iam::<account>:root for the root user. Matched against Principal elements and
	// aws:PrincipalArn; set it for users.
	ARN      string
	UserName string            // aws:username (users only)
	UserID   string            // aws:userid: the user's unique id; the account id for Root
	Tags     map[string]string // aws:PrincipalTag/<key>
}

// RootPrincipal is the root user of account.
func RootPrincipal(account string) Principal {
	return Principal{Type: Root, Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account}
}

// UserPrincipal is the IAM user name (path "/" ) of account with unique id userID.
func UserPrincipal(account, name, userID string) Principal {
	return Principal{Type: User, Account: account, ARN: "arn:aws:iam::" + account + ":user/" + name,
		UserName: name, UserID: userID}
}

// Request is one authorization question and the context its conditions are evaluated against.
// The zero value of an optional field means the context key is absent.
type Request struct {
	Principal Principal
	Action    string // "ecr:BatchGetImage"
	// Resource is the ARN acted on ("arn:aws:ecr:us-east-1:111122223333:repository/app"), or
	// "*" for actions without a resource type (GetAuthorizationToken, registry settings).
	Resource        string
	ResourceAccount string // the account owning Resource (the registry id)

	ResourceTags    map[string]string // aws:ResourceTag/<key> and ecr:ResourceTag/<key>
	RequestTags     map[string]string // aws:RequestTag/<key>
	TagKeys         []string          // aws:TagKeys (multi-valued)
	SourceIP        netip.Addr        // aws:SourceIp
	SecureTransport bool              // aws:SecureTransport (always present)
	CurrentTime     time.Time         // aws:CurrentTime and aws:EpochTime: the injected clock
	// Extra holds any other single-valued context key by its full name, such as
	// "ecr:AccountSetting"; names are matched case-insensitively.
	Extra map[string]string

	// Resource split into its ARN parts once per evaluation.
	resourceParts [6]string
	resourceIsARN bool
}

// keyID names a context key Berth can resolve; keyOther covers every other key, looked up in
// Request.Extra.
type keyID uint8

const (
	keyOther keyID = iota
	keySourceIP
	keyPrincipalARN
	keyPrincipalAccount
	keyPrincipalTag
	keyPrincipalType
	keyUsername
	keyUserID
	keyCurrentTime
	keyEpochTime
	keySecureTransport
	keyResourceTag // aws:ResourceTag/ and ecr:ResourceTag/
	keyRequestTag
	keyTagKeys
	keyResourceAccount
)

// keyRef is a parsed condition key or variable name.
type keyRef struct {
	id   keyID
	name string // the key as written (for keyOther: the full name; for tags: the tag key)
}

var simpleKeys = map[string]keyID{
	"aws:sourceip":         keySourceIP,
	"aws:principalarn":     keyPrincipalARN,
	"aws:principalaccount": keyPrincipalAccount,
	"aws:principaltype":    keyPrincipalType,
	"aws:username":         keyUsername,
	"aws:userid":           keyUserID,
	"aws:currenttime":      keyCurrentTime,
	"aws:epochtime":        keyEpochTime,
	"aws:securetransport":  keySecureTransport,
	"aws:tagkeys":          keyTagKeys,
	"aws:resourceaccount":  keyResourceAccount,
}

var tagKeyPrefixes = []struct {
	prefix string
	id     keyID
}{
	{"aws:principaltag/", keyPrincipalTag},
	{"aws:resourcetag/", keyResourceTag},
	{"ecr:resourcetag/", keyResourceTag},
	{"aws:requesttag/", keyRequestTag},
}

// parseKey resolves a key name; key names are case-insensitive, tag keys keep their case.
func parseKey(name string) keyRef {
	lower := strings.ToLower(name)
	if id, ok := simpleKeys[lower]; ok {
		return keyRef{id: id, name: name}
	}
	for _, t := range tagKeyPrefixes {
		if strings.HasPrefix(lower, t.prefix) {
			return keyRef{id: t.id, name: name[len(t.prefix):]}
		}
	}
	return keyRef{id: keyOther, name: name}
}

// valueKind is the type of a resolved context value.
type valueKind uint8

const (
	valString valueKind = iota
	valBool
	valTime
	valEpoch
	valIP
	valList
)

// ctxValue is a resolved context key. It is built on the stack; only converting a typed value
// to a string (rare: a String operator on aws:SourceIp or aws:CurrentTime) allocates.
type ctxValue struct {
	kind valueKind
	s    string
	b    bool
	t    time.Time
	ip   netip.Addr
	list []string
}

// lookup resolves k into *v; it reports false when the key is absent from the request context.
// It fills a caller-owned value because ctxValue is large and this runs for every condition.
func (r *Request) lookup(k keyRef, v *ctxValue) bool {
	p := &r.Principal
	*v = ctxValue{}
	switch k.id {
	case keySourceIP:
		v.kind, v.ip = valIP, r.SourceIP.Unmap()
		return r.SourceIP.IsValid()
	case keyPrincipalARN:
		if p.Type == Anonymous {
			return false
		}
		if v.s = p.ARN; v.s == "" && p.Type == Root {
			v.s = "arn:aws:iam::" + p.Account + ":root"
		}
	case keyPrincipalAccount:
		v.s = p.Account
	case keyPrincipalType:
		v.s = "Anonymous"
		switch p.Type {
		case Root:
			v.s = "Account"
		case User:
			v.s = "User"
		}
	case keyPrincipalTag:
		return tagValue(p.Tags, k.name, v)
	case keyUsername:
		if p.Type == User {
			v.s = p.UserName
		}
	case keyUserID:
		if v.s = p.UserID; v.s == "" && p.Type == Root {
			v.s = p.Account
		}
	case keyCurrentTime, keyEpochTime:
		v.kind, v.t = valTime, r.CurrentTime
		if k.id == keyEpochTime {
			v.kind = valEpoch
		}
		return !r.CurrentTime.IsZero()
	case keySecureTransport:
		v.kind, v.b = valBool, r.SecureTransport
		return true
	case keyResourceTag:
		return tagValue(r.ResourceTags, k.name, v)
	case keyRequestTag:
		return tagValue(r.RequestTags, k.name, v)
	case keyTagKeys:
		v.kind, v.list = valList, r.TagKeys
		return len(r.TagKeys) > 0
	case keyResourceAccount:
		v.s = r.ResourceAccount
	default:
		return tagValue(r.Extra, k.name, v)
	}
	return v.s != ""
}

// tagValue looks key up exactly, then ignoring case: IAM treats tag keys in condition keys
// case-insensitively.
func tagValue(m map[string]string, key string, v *ctxValue) bool {
	if s, ok := m[key]; ok {
		v.s = s
		return true
	}
	for k, s := range m {
		if strings.EqualFold(k, key) {
			v.s = s
			return true
		}
	}
	return false
}

// variable resolves a policy variable: single-valued keys only, as a string.
func (r *Request) variable(k keyRef) (string, bool) {
	var v ctxValue
	if !r.lookup(k, &v) || v.kind == valList {
		return "", false
	}
	return v.String(), true
}

// count and at iterate a value as a set: lists element by element, anything else as a set of one.
func (v *ctxValue) count() int {
	if v.kind == valList {
		return len(v.list)
	}
	return 1
}

func (v *ctxValue) at(i int, tmp *ctxValue) *ctxValue {
	if v.kind == valList {
		*tmp = ctxValue{s: v.list[i]}
		return tmp
	}
	return v
}

// String renders a single value as IAM would compare it with a String operator.
func (v *ctxValue) String() string {
	switch v.kind {
	case valBool:
		if v.b {
			return "true"
		}
		return "false"
	case valTime:
		return v.t.UTC().Format(time.RFC3339)
	case valEpoch:
		return strconv.FormatInt(v.t.Unix(), 10)
	case valIP:
		return v.ip.String()
	}
	return v.s
}
