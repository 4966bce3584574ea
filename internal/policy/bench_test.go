package policy

import (
	"fmt"
	"testing"
)

// benchSet is a realistic authorized request: alice's 20-statement identity policy allows the
// pull only in its last statement, after statements for other actions, other repositories,
// conditions and two Deny statements that do not apply; the repository policy (a cross-account
// grant, a CIDR deny that does not fire and a tag-conditioned grant) is scanned for denies.
func benchSet(tb testing.TB) (Request, PolicySet) {
	var stmts []string
	for i := range 8 {
		stmts = append(stmts, st("Allow", fmt.Sprintf("ecr:Describe%d*|ecr:List%d*", i, i), repoARN(acctA, fmt.Sprintf("team%d/*", i))))
	}
	for i := range 5 {
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":["ecr:PutImage","ecr:BatchGetImage"],"Resource":"%s","Condition":{"StringEquals":{"aws:ResourceTag/env":"dev%d"},"IpAddress":{"aws:SourceIp":["10.%d.0.0/16","2001:db8:%d::/48"]}}}`, repoARN(acctA, "*"), i, i, i))
	}
	for i := range 4 {
		stmts = append(stmts, st("Allow", "ecr:Get*|ecr:BatchGet*", fmt.Sprintf("arn:aws:ecr:us-west-%d:%s:repository/${aws:username}/*", i, acctA)))
	}
	stmts = append(stmts,
		st("Deny", "ecr:*", repoARN(acctA, "secret/*")),
		`{"Effect":"Deny","Action":"ecr:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
		`{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],"Resource":"arn:aws:ecr:us-east-1:111122223333:repository/*","Condition":{"StringEquals":{"aws:PrincipalTag/dept":"eng"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`,
	)
	if len(stmts) != 20 {
		tb.Fatalf("%d statements", len(stmts))
	}
	identity := mustParse(tb, doc(stmts...), Identity)
	repoPolicy := mustParse(tb, doc(
		rs("Allow", aws(rootBARN), "ecr:BatchGetImage|ecr:GetDownloadUrlForLayer"),
		`{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}}`,
		`{"Effect":"Allow","Principal":{"AWS":"`+bobARN+`"},"Action":"ecr:*","Condition":{"StringEquals":{"aws:ResourceTag/shared":"true"}}}`,
	), Resource)
	return req(alice, get), PolicySet{Identity: []*Policy{identity}, Repository: repoPolicy}
}

func BenchmarkEvaluateAuthorized(b *testing.B) {
	r, set := benchSet(b)
	if d := Evaluate(r, set); !d.Allowed() {
		b.Fatalf("bench request not allowed: %s", d.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(r, set)
	}
}

func BenchmarkEvaluateCrossAccount(b *testing.B) {
	_, set := benchSet(b)
	r := req(bob, get)
	set.Identity = []*Policy{mustParse(b, doc(st("Allow", get, "arn:aws:ecr:*:*:repository/*")), Identity)}
	if d := Evaluate(r, set); !d.Allowed() {
		b.Fatalf("bench request not allowed: %s", d.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(r, set)
	}
}

func BenchmarkParse(b *testing.B) {
	_, set := benchSet(b)
	text := set.Identity[0].Text()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text, Identity); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateAllocations pins the hot path: an authorized evaluation allocates nothing.
func TestEvaluateAllocations(t *testing.T) {
	r, set := benchSet(t)
	if n := testing.AllocsPerRun(100, func() { Evaluate(r, set) }); n != 0 {
		t.Fatalf("authorized Evaluate allocates %v times", n)
	}
}
