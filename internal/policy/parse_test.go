package policy

import (
	"errors"
	"strings"
	"testing"
)

// parseCases also seed FuzzParse.
var parseCases = []struct {
	name string
	kind Kind
	text string
	msg  string // "" means valid; otherwise the AWS message (Error.Message)
}{
	{"identity minimal", Identity, allowAll, ""},
	{"no Version", Identity, `{"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`, ""},
	{"Id and Sid", Identity, `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"Pull1","Effect":"Allow","Action":["ecr:BatchGetImage"],"Resource":["*"]}]}`, ""},
	{"repository without Resource", Resource, doc(rs("Allow", aws(rootBARN), get)), ""},
	{"repository Sid with spaces", Resource, doc(`{"Sid":"cross account pull","Effect":"Allow","Principal":"*","Action":"ecr:*"}`), ""},
	{"repository Service principal", Resource, doc(rs("Allow", `{"Service":"codebuild.amazonaws.com"}`, get)), ""},
	{"repository principal list", Resource, doc(rs("Allow", aws(acctB+"|"+bobARN+"|arn:aws:iam::"+acctB+":role/ci"), get)), ""},
	{"registry", Registry, doc(`{"Effect":"Allow","Principal":{"AWS":"` + rootBARN + `"},"Action":"ecr:ReplicateImage","Resource":"arn:aws:ecr:us-east-1:` + acctA + `:repository/*"}`), ""},
	{"conditions", Identity, doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"NumericLessThan":{"aws:EpochTime":1}, "Bool":{"aws:SecureTransport":true},"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.1"]},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"},"Null":{"aws:SourceIp":"false"},"BinaryEquals":{"aws:PrincipalTag/b":"aGk="}}}`), ""},
	{"2008 keeps ${ literal", Identity, `{"Version":"2008-10-17","Statement":[` + st("Allow", "ecr:*", "arn:aws:ecr:*:*:repository/${oops") + `]}`, ""},

	{"not JSON", Identity, `{"Version":`, msgSyntax},
	{"trailing data", Identity, allowAll + ` {}`, msgSyntax},
	{"not an object", Identity, `[]`, msgSyntax},
	{"no Statement", Identity, `{"Version":"2012-10-17"}`, msgSyntax},
	{"bad Version", Identity, `{"Version":"2012-10-18","Statement":[]}`, msgSyntax},
	{"unknown element", Identity, `{"Version":"2012-10-17","Statements":[]}`, msgSyntax},
	{"Id not string", Identity, `{"Id":1,"Statement":[]}`, msgSyntax},
	{"Statement string", Identity, `{"Statement":"x"}`, msgSyntax},
	{"statement not object", Identity, `{"Statement":[1]}`, msgSyntax},
	{"unknown statement element", Identity, doc(`{"Effect":"Allow","Actions":"ecr:*","Resource":"*"}`), msgSyntax},
	{"missing Effect", Identity, doc(`{"Action":"ecr:*","Resource":"*"}`), "Missing required field Effect"},
	{"bad Effect", Identity, doc(st("allow", "ecr:*", "*")), "Invalid effect: allow"},
	{"identity Principal", Identity, doc(`{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}`), msgNoPrincipal},
	{"identity NotPrincipal", Identity, doc(`{"Effect":"Deny","NotPrincipal":"*","Action":"ecr:*","Resource":"*"}`), msgNoPrincipal},
	{"repository no Principal", Resource, doc(`{"Effect":"Allow","Action":"ecr:*"}`), msgMissingPrincipal},
	{"registry no Principal", Registry, doc(st("Allow", "ecr:*", "*")), msgMissingPrincipal},
	{"principal string", Resource, doc(rs("Allow", `"foo"`, get)), `Invalid principal in policy: "foo"`},
	{"principal bad account", Resource, doc(rs("Allow", aws("arn:aws:iam::123:user/x"), get)), `Invalid principal in policy: "AWS":"arn:aws:iam::123:user/x"`},
	{"principal wildcard ARN", Resource, doc(rs("Allow", aws("arn:aws:iam::"+acctB+":user/*"), get)), `Invalid principal in policy: "AWS":"arn:aws:iam::444455556666:user/*"`},
	{"principal unknown type", Resource, doc(rs("Allow", `{"Foo":"x"}`, get)), `Invalid principal in policy: "Foo":"x"`},
	{"principal empty object", Resource, doc(rs("Allow", `{}`, get)), "Invalid principal in policy: {}"},
	{"principal empty list", Resource, doc(rs("Allow", `{"AWS":[]}`, get)), `Invalid principal in policy: "AWS":[]`},
	{"principal service wildcard", Resource, doc(rs("Allow", `{"Service":"*"}`, get)), `Invalid principal in policy: "Service":"*"`},
	{"Principal and NotPrincipal", Resource, doc(`{"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"ecr:*"}`), msgSyntax},
	{"NotPrincipal with Allow", Resource, doc(`{"Effect":"Allow","NotPrincipal":"*","Action":"ecr:*"}`), msgSyntax},
	{"no Action", Identity, doc(`{"Effect":"Allow","Resource":"*"}`), msgNoActions},
	{"empty Action", Identity, doc(`{"Effect":"Allow","Action":[],"Resource":"*"}`), msgNoActions},
	{"Action and NotAction", Identity, doc(`{"Effect":"Allow","Action":"ecr:*","NotAction":"ecr:Put*","Resource":"*"}`), msgSyntax},
	{"Action without vendor", Identity, doc(st("Allow", "BatchGetImage", "*")), msgVendor},
	{"Action vendor wildcard", Identity, doc(st("Allow", "ec*:BatchGetImage", "*")), msgVendor},
	{"Action number", Identity, doc(`{"Effect":"Allow","Action":5,"Resource":"*"}`), msgSyntax},
	{"identity no Resource", Identity, doc(`{"Effect":"Allow","Action":"ecr:*"}`), msgNoResources},
	{"registry no Resource", Registry, doc(rs("Allow", `"*"`, "ecr:*")), msgNoResources},
	{"empty Resource", Identity, doc(`{"Effect":"Allow","Action":"ecr:*","Resource":[]}`), msgNoResources},
	{"Resource and NotResource", Identity, doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","NotResource":"*"}`), msgSyntax},
	{"Resource not ARN", Identity, doc(st("Allow", "ecr:*", "repository/app")), `Resource repository/app must be in ARN format or "*".`},
	{"Resource five parts", Identity, doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:repository/app")), `Resource arn:aws:ecr:us-east-1:repository/app must be in ARN format or "*".`},
	{"Resource no vendor", Identity, doc(st("Allow", "ecr:*", "arn:aws::us-east-1:1:x")), "Resource vendor must be fully qualified and cannot contain regexes."},
	{"Resource vendor wildcard", Identity, doc(st("Allow", "ecr:*", "arn:aws:ec*:us-east-1:1:x")), "Resource vendor must be fully qualified and cannot contain regexes."},
	{"unknown operator", Identity, condDoc(`{"StringEqual":{"aws:username":"a"}}`), "Invalid Condition type : StringEqual"},
	{"NullIfExists", Identity, condDoc(`{"NullIfExists":{"aws:username":"true"}}`), "Invalid Condition type : NullIfExists"},
	{"unknown qualifier", Identity, condDoc(`{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}`), "Invalid Condition type : ForSomeValues:StringEquals"},
	{"qualified Null", Identity, condDoc(`{"ForAllValues:Null":{"aws:TagKeys":"true"}}`), "Invalid Condition type : ForAllValues:Null"},
	{"key without vendor", Identity, condDoc(`{"StringEquals":{"username":"a"}}`), msgVendor},
	{"bad IP", Identity, condDoc(`{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}`), msgSyntax},
	{"bad CIDR", Identity, condDoc(`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), msgSyntax},
	{"bad number", Identity, condDoc(`{"NumericEquals":{"aws:EpochTime":"abc"}}`), msgSyntax},
	{"bad date", Identity, condDoc(`{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}`), msgSyntax},
	{"bad bool", Identity, condDoc(`{"Bool":{"aws:SecureTransport":"yes"}}`), msgSyntax},
	{"bad Null value", Identity, condDoc(`{"Null":{"aws:SourceIp":"maybe"}}`), msgSyntax},
	{"bad base64", Identity, condDoc(`{"BinaryEquals":{"aws:PrincipalTag/b":"!!!"}}`), msgSyntax},
	{"empty condition values", Identity, condDoc(`{"StringEquals":{"aws:username":[]}}`), msgSyntax},
	{"object condition value", Identity, condDoc(`{"StringEquals":{"aws:username":{"a":1}}}`), msgSyntax},
	{"operator without keys", Identity, condDoc(`{"StringEquals":{}}`), msgSyntax},
	{"Condition not object", Identity, condDoc(`"x"`), msgSyntax},
	{"duplicate Sid", Identity, doc(`{"Sid":"A","Effect":"Allow","Action":"ecr:*","Resource":"*"}`, `{"Sid":"A","Effect":"Deny","Action":"ecr:*","Resource":"*"}`), msgDuplicateSid},
	{"duplicate Sid repository", Resource, doc(`{"Sid":"A","Effect":"Allow","Principal":"*","Action":"ecr:*"}`, `{"Sid":"A","Effect":"Allow","Principal":"*","Action":"ecr:*"}`), msgDuplicateSid},
	{"identity Sid not alnum", Identity, doc(`{"Sid":"my-sid","Effect":"Allow","Action":"ecr:*","Resource":"*"}`), msgSidAlnum},
	{"Sid not string", Resource, doc(`{"Sid":1,"Effect":"Allow","Principal":"*","Action":"ecr:*"}`), msgSyntax},
	{"unterminated variable", Identity, doc(st("Allow", "ecr:*", "arn:aws:ecr:*:*:repository/${aws:username")), msgSyntax},
	{"variable default unquoted", Identity, doc(st("Allow", "ecr:*", "arn:aws:ecr:*:*:repository/${aws:username, x}")), msgSyntax},
	{"empty variable", Identity, condDoc(`{"StringEquals":{"aws:username":"${}"}}`), msgSyntax},
}

func condDoc(condition string) string {
	return doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":` + condition + `}`)
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(c.text, c.kind)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if p.Text() != c.text || p.Kind() != c.kind {
					t.Fatalf("Text/Kind not kept: %q %v", p.Text(), p.Kind())
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, want an *Error wrapping ErrMalformed", err)
			}
			if e.Message != c.msg {
				t.Fatalf("Message = %q, want %q (detail %q)", e.Message, c.msg, e.Detail)
			}
			if e.Message == msgSyntax && e.Detail == "" {
				t.Fatalf("generic message without detail")
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	pad := func(n int) string { return strings.Repeat("a", n) }
	// The Sid is padded so the document has exactly size non-whitespace characters.
	identity := func(size int, ws string) string {
		base := `{"Statement":{"Sid":"","Effect":"Allow","Action":"ecr:*","Resource":"*"}}`
		return strings.Replace(base, `"Sid":""`, `"Sid":"`+pad(size-len(base))+`"`+ws, 1)
	}
	if _, err := Parse(identity(MaxIdentitySize, strings.Repeat(" ", 500)), Identity); err != nil {
		t.Fatalf("identity at the limit, whitespace not counted: %v", err)
	}
	_, err := Parse(identity(MaxIdentitySize+1, ""), Identity)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "Cannot exceed quota for PolicySize: 6144" {
		t.Fatalf("identity over the limit: %v", err)
	}
	repoDoc := func(size int) string {
		base := `{"Statement":{"Sid":"","Effect":"Allow","Principal":"*","Action":"ecr:*"}}`
		return strings.Replace(base, `"Sid":""`, `"Sid":"`+pad(size-len(base))+`"`, 1)
	}
	if _, err := Parse(repoDoc(MaxResourceSize), Resource); err != nil {
		t.Fatalf("repository policy at the limit: %v", err)
	}
	_, err = Parse(repoDoc(MaxResourceSize+1), Registry)
	want := "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have length less than or equal to 10240'"
	if !errors.Is(err, ErrTooLarge) || err.Error() != want {
		t.Fatalf("registry policy over the limit: %v", err)
	}
	if _, err := ParseWithLimit(repoDoc(200), Resource, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("custom limit: %v", err)
	}
	if _, err := ParseWithLimit(repoDoc(20000), Resource, 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
	if _, err := Parse(allowAll, Kind(9)); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func TestPolicyAccessors(t *testing.T) {
	t.Parallel()
	p := mustParse(t, doc(`{"Sid":"A","Effect":"Allow","Action":"ecr:*","Resource":"*"}`, st("Deny", "ecr:Put*", "*")), Identity)
	if p.Version() != Version2012 || p.Len() != 2 || strings.Join(p.Sids(), ",") != "A," {
		t.Fatalf("Version %q Len %d Sids %q", p.Version(), p.Len(), p.Sids())
	}
	for _, k := range []Kind{Identity, Resource, Registry, Kind(7)} {
		if k.String() == "" {
			t.Fatalf("Kind %d has no name", k)
		}
	}
}

func TestManaged(t *testing.T) {
	t.Parallel()
	names := ManagedNames()
	if len(names) != 4 {
		t.Fatalf("ManagedNames = %v", names)
	}
	for _, name := range names {
		byName, ok := Managed(name)
		if !ok || byName.Kind() != Identity {
			t.Fatalf("Managed(%s) = %v, %v", name, byName, ok)
		}
		if byARN, ok := Managed(ManagedARN(name)); !ok || byARN != byName {
			t.Fatalf("Managed(%s) by ARN differs", name)
		}
	}
	if _, ok := Managed("AdministratorAccess"); ok {
		t.Fatal("unknown managed policy found")
	}
}

func TestDecisionMessage(t *testing.T) {
	t.Parallel()
	r := req(bob, get)
	d := Evaluate(r, PolicySet{})
	want := "User: " + bobARN + " is not authorized to perform: ecr:BatchGetImage on resource: " +
		repoARN(acctA, "app") + " because no resource-based policy allows the ecr:BatchGetImage action"
	if got := d.Message(r); got != want {
		t.Fatalf("Message = %q\nwant      %q", got, want)
	}
	if got := Evaluate(req(rootA, get), PolicySet{}).Message(r); got != "" {
		t.Fatalf("allowed decision has message %q", got)
	}
	if got := d.Message(req(anon, get)); !strings.HasPrefix(got, "User: anonymous is not") {
		t.Fatalf("anonymous message %q", got)
	}
	for _, e := range []Effect{Allow, ImplicitDeny, ExplicitDeny} {
		if e.String() == "" {
			t.Fatal("Effect without name")
		}
	}
}
