package policy

// cond is a case where alice's only identity policy allows ecr:* on * under condition.
func cond(name, condition string, want Effect, opts ...func(*Request)) evalCase {
	return evalCase{
		name:     name,
		identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":` + condition + `}`)},
		req:      req(alice, get, opts...),
		want:     want,
	}
}

func conditionCases() []evalCase {
	return []evalCase{
		// String operators: exact, case-sensitive; multiple values are ORed.
		cond("StringEquals", `{"StringEquals":{"aws:username":"alice"}}`, allow),
		cond("StringEquals case-sensitive", `{"StringEquals":{"aws:username":"Alice"}}`, implicit),
		cond("StringEquals values ORed", `{"StringEquals":{"aws:username":["bob","alice"]}}`, allow),
		cond("StringNotEquals other", `{"StringNotEquals":{"aws:username":"bob"}}`, allow),
		// Negated operators with several values hold only when none matches.
		cond("StringNotEquals none-match", `{"StringNotEquals":{"aws:username":["bob","alice"]}}`, implicit),
		cond("StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, allow),
		cond("StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, implicit),
		cond("StringLike *", `{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/a*"}}`, allow),
		cond("StringLike ?", `{"StringLike":{"aws:username":"?lice"}}`, allow),
		cond("StringLike no wildcard", `{"StringLike":{"aws:username":"ali"}}`, implicit),
		cond("StringNotLike miss", `{"StringNotLike":{"aws:username":"b*"}}`, allow),
		cond("StringNotLike hit", `{"StringNotLike":{"aws:username":"a*"}}`, implicit),
		// A missing key: the condition is false, except negated operators, which are true.
		cond("StringEquals missing key", `{"StringEquals":{"aws:PrincipalTag/missing":"x"}}`, implicit),
		cond("StringNotEquals missing key", `{"StringNotEquals":{"aws:PrincipalTag/missing":"x"}}`, allow),
		cond("StringNotLike missing key", `{"StringNotLike":{"aws:PrincipalTag/missing":"x*"}}`, allow),
		// ...IfExists: true when the key is absent, otherwise the operator decides.
		cond("StringEqualsIfExists missing", `{"StringEqualsIfExists":{"aws:PrincipalTag/missing":"x"}}`, allow),
		cond("StringEqualsIfExists mismatch", `{"StringEqualsIfExists":{"aws:username":"bob"}}`, implicit),
		cond("StringEqualsIfExists match", `{"StringEqualsIfExists":{"aws:username":"alice"}}`, allow),
		cond("StringNotEqualsIfExists present", `{"StringNotEqualsIfExists":{"aws:username":"alice"}}`, implicit),
		// Condition key names are case-insensitive.
		cond("key name case", `{"StringEquals":{"AWS:UserName":"alice"}}`, allow),
		// Keys under one operator, and operators, are ANDed.
		cond("keys ANDed true", `{"StringEquals":{"aws:username":"alice","aws:PrincipalAccount":"111122223333"}}`, allow),
		cond("keys ANDed false", `{"StringEquals":{"aws:username":"alice","aws:PrincipalAccount":"444455556666"}}`, implicit),
		cond("operators ANDed", `{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"false"}}`, implicit),
		// Condition values may be JSON numbers or booleans, compared as their text.
		cond("number value", `{"StringEquals":{"aws:PrincipalTag/level":3}}`, allow),
		cond("bool value", `{"Bool":{"aws:SecureTransport":true}}`, allow),

		// Numeric operators.
		cond("NumericEquals", `{"NumericEquals":{"aws:PrincipalTag/level":"3"}}`, allow),
		cond("NumericEquals decimal", `{"NumericEquals":{"aws:PrincipalTag/level":"3.0"}}`, allow),
		cond("NumericNotEquals", `{"NumericNotEquals":{"aws:PrincipalTag/level":"3"}}`, implicit),
		cond("NumericLessThan true", `{"NumericLessThan":{"aws:PrincipalTag/level":"5"}}`, allow),
		cond("NumericLessThan equal", `{"NumericLessThan":{"aws:PrincipalTag/level":"3"}}`, implicit),
		cond("NumericLessThanEquals", `{"NumericLessThanEquals":{"aws:PrincipalTag/level":"3"}}`, allow),
		cond("NumericGreaterThan true", `{"NumericGreaterThan":{"aws:PrincipalTag/level":"2"}}`, allow),
		cond("NumericGreaterThan equal", `{"NumericGreaterThan":{"aws:PrincipalTag/level":"3"}}`, implicit),
		cond("NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"aws:PrincipalTag/level":"3"}}`, allow),
		cond("Numeric on non-number", `{"NumericEquals":{"aws:PrincipalTag/dept":"1"}}`, implicit),
		cond("Numeric on EpochTime", `{"NumericLessThan":{"aws:EpochTime":"1750000000"}}`, allow),
		cond("Numeric missing key", `{"NumericEquals":{"aws:PrincipalTag/missing":"1"}}`, implicit),
		cond("NumericNotEquals missing key", `{"NumericNotEquals":{"aws:PrincipalTag/missing":"1"}}`, allow),
		cond("NumericGreaterThanIfExists missing", `{"NumericGreaterThanIfExists":{"aws:PrincipalTag/missing":"1"}}`, allow),

		// Date operators: ISO 8601 or epoch seconds, against aws:CurrentTime (2025-06-15T12:00Z).
		cond("DateLessThan future", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, allow),
		cond("DateLessThan past", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, implicit),
		cond("DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2025-06-15T11:59:59Z"}}`, allow),
		cond("DateGreaterThan same instant", `{"DateGreaterThan":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}`, implicit),
		cond("DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}`, allow),
		cond("DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}`, allow),
		cond("DateEquals other zone", `{"DateEquals":{"aws:CurrentTime":"2025-06-15T14:00:00+02:00"}}`, allow),
		cond("DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}`, implicit),
		cond("Date epoch value", `{"DateGreaterThan":{"aws:CurrentTime":"1700000000"}}`, allow),
		cond("Date day value", `{"DateGreaterThan":{"aws:CurrentTime":"2025-06-15"}}`, allow),
		cond("Date on EpochTime", `{"DateLessThan":{"aws:EpochTime":"2030-01-01T00:00:00Z"}}`, allow),
		cond("Date on tag value", `{"DateGreaterThan":{"aws:ResourceTag/expires":"2025-01-01T00:00:00Z"}}`, allow),
		cond("Date no clock", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, implicit, noClock),
		cond("DateLessThanIfExists no clock", `{"DateLessThanIfExists":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, allow, noClock),

		// Bool.
		cond("Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, allow),
		cond("Bool false on TLS", `{"Bool":{"aws:SecureTransport":"false"}}`, implicit),
		cond("Bool false on plain", `{"Bool":{"aws:SecureTransport":"false"}}`, allow, insecure),
		cond("Bool value case", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, allow),
		cond("Bool on string tag", `{"Bool":{"aws:PrincipalTag/flag":"true"}}`, allow),
		cond("BoolIfExists missing", `{"BoolIfExists":{"aws:PrincipalTag/missing":"true"}}`, allow),

		// BinaryEquals compares base64-decoded bytes.
		cond("BinaryEquals", `{"BinaryEquals":{"aws:PrincipalTag/blob":"aGVsbG8="}}`, allow),
		cond("BinaryEquals mismatch", `{"BinaryEquals":{"aws:PrincipalTag/blob":"d29ybGQ="}}`, implicit),
		cond("BinaryEqualsIfExists missing", `{"BinaryEqualsIfExists":{"aws:PrincipalTag/missing":"aGVsbG8="}}`, allow),

		// IP address operators take CIDRs (IPv4 and IPv6) or single addresses.
		cond("IpAddress in", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, allow),
		cond("IpAddress out", `{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`, implicit),
		cond("IpAddress list", `{"IpAddress":{"aws:SourceIp":["198.51.100.0/24","203.0.113.0/24"]}}`, allow),
		cond("IpAddress single", `{"IpAddress":{"aws:SourceIp":"203.0.113.10"}}`, allow),
		cond("NotIpAddress out", `{"NotIpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`, allow),
		cond("NotIpAddress in", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, implicit),
		cond("IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, allow, ip("2001:db8::1")),
		cond("IpAddress v6 vs v4 range", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, implicit, ip("2001:db8::1")),
		cond("IpAddress v4-mapped", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, allow, ip("::ffff:203.0.113.10")),
		cond("IpAddress mixed list", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, allow, ip("2001:db8::1")),
		cond("IpAddress no IP", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, implicit, ip("")),
		cond("NotIpAddress no IP", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, allow, ip("")),
		cond("IpAddressIfExists no IP", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, allow, ip("")),

		// ARN operators: each ARN part matched separately; ArnEquals and ArnLike alike.
		cond("ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, allow),
		cond("ArnEquals wildcard", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}`, allow),
		cond("ArnLike account *", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/alice"}}`, allow),
		cond("ArnLike other account", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::444455556666:*"}}`, implicit),
		cond("ArnLike partition *", `{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::111122223333:*"}}`, allow),
		cond("ArnLike five-part pattern", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:*:111122223333:user/alice"}}`, implicit),
		cond("ArnNotEquals other", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}`, allow),
		cond("ArnNotLike hit", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}`, implicit),
		cond("ArnLike non-ARN value", `{"ArnLike":{"aws:username":"alice"}}`, implicit),
		cond("ArnLike missing key", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, implicit),
		cond("ArnNotLike missing key", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, allow),

		// Null tests presence: "true" means the key is absent.
		cond("Null true absent", `{"Null":{"aws:PrincipalTag/missing":"true"}}`, allow),
		cond("Null true present", `{"Null":{"aws:PrincipalTag/dept":"true"}}`, implicit),
		cond("Null false present", `{"Null":{"aws:PrincipalTag/dept":"false"}}`, allow),
		cond("Null false empty list", `{"Null":{"aws:TagKeys":"false"}}`, implicit, tagKeys()),
		cond("Null true no IP", `{"Null":{"aws:SourceIp":"true"}}`, allow, ip("")),

		// Tag and principal keys.
		cond("aws:ResourceTag", `{"StringEquals":{"aws:ResourceTag/env":"prod"}}`, allow),
		cond("ecr:ResourceTag", `{"StringEquals":{"ecr:ResourceTag/env":"prod"}}`, allow),
		cond("tag key case-insensitive", `{"StringEquals":{"aws:ResourceTag/ENV":"prod"}}`, allow),
		cond("aws:ResourceTag mismatch", `{"StringEquals":{"aws:ResourceTag/env":"staging"}}`, implicit),
		cond("aws:RequestTag", `{"StringEquals":{"aws:RequestTag/team":"blue"}}`, allow),
		cond("aws:PrincipalTag", `{"StringEquals":{"aws:PrincipalTag/dept":"eng"}}`, allow),
		cond("aws:PrincipalAccount", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, allow),
		cond("aws:userid", `{"StringEquals":{"aws:userid":"AIDAALICE"}}`, allow),
		cond("aws:PrincipalType", `{"StringEquals":{"aws:PrincipalType":"User"}}`, allow),
		cond("aws:ResourceAccount", `{"StringEquals":{"aws:ResourceAccount":"111122223333"}}`, allow),
		cond("service key from Extra", `{"StringEquals":{"ecr:AccountSetting":"BASIC_SCAN_TYPE_VERSION"}}`, allow),
		cond("SourceIp as string", `{"StringLike":{"aws:SourceIp":"203.0.113.*"}}`, allow),
		cond("CurrentTime as string", `{"StringLike":{"aws:CurrentTime":"2025-06-15T*"}}`, allow),
	}
}

func qualifierCases() []evalCase {
	// The default request has aws:TagKeys = ["team", "cost"].
	return []evalCase{
		// ForAllValues: every request value must match some policy value.
		cond("ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost","owner"]}}`, allow),
		cond("ForAllValues extra key", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`, implicit),
		// ForAllValues is true when the key is missing or empty.
		cond("ForAllValues missing", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`, allow, tagKeys()),
		cond("ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["t*","c*"]}}`, allow),
		cond("ForAllValues IgnoreCase", `{"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["TEAM","COST"]}}`, allow),
		cond("ForAllValues StringNotEquals holds", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["owner"]}}`, allow),
		cond("ForAllValues StringNotEquals fails", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["cost"]}}`, implicit),
		cond("ForAllValues StringLikeIfExists missing", `{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":"x*"}}`, allow, tagKeys()),
		// ForAnyValue: at least one request value must match; false when the key is missing.
		cond("ForAnyValue hit", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"cost"}}`, allow),
		cond("ForAnyValue miss", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"owner"}}`, implicit),
		cond("ForAnyValue missing", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"team"}}`, implicit, tagKeys()),
		cond("ForAnyValue StringNotEquals holds", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"team"}}`, allow),
		cond("ForAnyValue StringNotEquals fails", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team","cost"]}}`, implicit),
		cond("ForAnyValue StringLike", `{"ForAnyValue:StringLike":{"aws:TagKeys":"co*"}}`, allow),
		cond("ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"team"}}`, allow, tagKeys()),
		// A single-valued key under a qualifier is a set of one.
		cond("ForAnyValue single-valued", `{"ForAnyValue:StringEquals":{"aws:username":"alice"}}`, allow),
		cond("ForAllValues single-valued missing", `{"ForAllValues:StringEquals":{"aws:PrincipalTag/missing":"x"}}`, allow),
		// Without a qualifier, a multi-valued key matches when any value does (Berth's choice).
		cond("unqualified multi-valued any", `{"StringEquals":{"aws:TagKeys":"cost"}}`, allow),
		cond("unqualified multi-valued negated", `{"StringNotEquals":{"aws:TagKeys":"cost"}}`, implicit),
		// A Deny with ForAnyValue blocks requests carrying a forbidden tag key.
		{name: "deny ForAnyValue tag key", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"ecr:TagResource","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"secret"}}}`)},
			req: req(alice, "ecr:TagResource", tagKeys("team", "secret")), want: explicit},
		{name: "deny ForAnyValue tag key absent", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"ecr:TagResource","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"secret"}}}`)},
			req: req(alice, "ecr:TagResource"), want: allow},
	}
}

func variableCases() []evalCase {
	userRepos := doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}/*"))
	withDefault := doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${aws:PrincipalTag/team, 'shared'}/*"))
	return []evalCase{
		// Policy variables are replaced by the request's values in Resource.
		{name: "var in Resource match", identity: []string{userRepos}, req: req(alice, get, repo("alice/app")), want: allow},
		{name: "var in Resource other user", identity: []string{userRepos}, req: req(alice, get, repo("bob/app")), want: implicit},
		{name: "var case-insensitive name", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${AWS:UserName}/*"))}, req: req(alice, get, repo("alice/app")), want: allow},
		// Only Version 2012-10-17 substitutes variables.
		{name: "var literal in 2008", identity: []string{`{"Version":"2008-10-17","Statement":[` + st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}/*") + `]}`}, req: req(alice, get, repo("alice/app")), want: implicit},
		{name: "var PrincipalAccount own", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:*:${aws:PrincipalAccount}:repository/*"))}, req: req(alice, get), want: allow},
		{name: "var PrincipalAccount cross", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:*:${aws:PrincipalAccount}:repository/*"))}, repo: doc(rs("Allow", aws(acctB), get)), req: req(bob, get), want: implicit, reason: noIDAllow},
		{name: "var userid", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${aws:userid}"))}, req: req(alice, get, repo("AIDAALICE")), want: allow},
		// A default value is used when the key is absent, and only then.
		{name: "var default used", identity: []string{withDefault}, req: req(alice, get, repo("shared/app")), want: allow},
		{name: "var default unused", identity: []string{withDefault}, req: req(alice, get, repo("blue/app"), ptag("team", "blue")), want: allow},
		{name: "var default not when present", identity: []string{withDefault}, req: req(alice, get, repo("shared/app"), ptag("team", "blue")), want: implicit},
		// A variable without value makes the element match nothing.
		{name: "var unresolved Resource", identity: []string{doc(st("Allow", "ecr:*", "arn:aws:ecr:us-east-1:111122223333:repository/${aws:PrincipalTag/missing}*"))}, req: req(alice, get), want: implicit},
		{name: "var unresolved NotResource after literal", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","NotResource":"arn:aws:ecr:*:*:repository/x-${aws:PrincipalTag/missing}"}`)}, req: req(alice, get), want: implicit},
		{name: "var unresolved NotResource", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","NotResource":"arn:aws:ecr:*:*:repository/${aws:PrincipalTag/missing}"}`)}, req: req(alice, get), want: implicit},
		cond("var unresolved negated condition", `{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/missing}"}}`, implicit),
		cond("var unresolved after literal", `{"StringNotLike":{"aws:ResourceTag/owner":"x-${aws:PrincipalTag/missing}"}}`, implicit),
		cond("var unresolved IfExists", `{"StringEqualsIfExists":{"aws:PrincipalTag/missing":"${aws:PrincipalTag/none}"}}`, implicit),
		// Variables in condition values (String and Arn operators).
		cond("var in StringEquals", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, allow),
		cond("var in StringEquals mismatch", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, implicit, rtag("owner", "bob")),
		cond("var in StringLike", `{"StringLike":{"aws:ResourceTag/path":"${aws:username}/*"}}`, allow, rtag("path", "alice/x")),
		cond("var ABAC principal tag", `{"StringEquals":{"aws:ResourceTag/dept":"${aws:PrincipalTag/dept}"}}`, allow, rtag("dept", "eng")),
		cond("var in ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"}}`, allow),
		cond("var default quote", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/none, 'o''brien'}"}}`, allow, rtag("owner", "o'brien")),
		// A variable's value is literal: a "*" in it is not a wildcard.
		cond("var value not wildcard", `{"StringLike":{"aws:ResourceTag/env":"${aws:PrincipalTag/star}"}}`, implicit),
		// ${*}, ${?} and ${$} stand for the literal characters.
		cond("${*} literal equals", `{"StringEquals":{"aws:ResourceTag/k":"a${*}b"}}`, allow, rtag("k", "a*b")),
		cond("${*} literal in StringLike", `{"StringLike":{"aws:ResourceTag/k":"a${*}b"}}`, implicit, rtag("k", "axb")),
		cond("${?} literal", `{"StringLike":{"aws:ResourceTag/k":"${?}"}}`, allow, rtag("k", "?")),
		cond("${$} literal", `{"StringEquals":{"aws:ResourceTag/k":"cost${$}"}}`, allow, rtag("k", "cost$")),
	}
}
