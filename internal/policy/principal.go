package policy

import (
	"fmt"
	"strings"
)

// principals is a compiled Principal or NotPrincipal element.
type principals struct {
	present  bool
	anyone   bool     // "*" or {"AWS": "*"}: everyone, anonymous callers included
	accounts []string // account ids, from "111122223333" or "arn:aws:iam::111122223333:root"
	arns     []string // IAM user, role and session ARNs, compared exactly
	// Service, Federated and CanonicalUser principals are validated and kept in the text but
	// never match: Berth has no such callers.
}

// principalMatch says how a caller matched a Principal element. Within one account, a resource
// policy grants on its own only to principals it names (matchNamed); naming the account
// (matchAccount) delegates to the account's identity policies, as IAM documents.
type principalMatch uint8

const (
	matchNone principalMatch = iota
	matchAccount
	matchNamed
)

// parsePrincipal compiles the value of a Principal or NotPrincipal element.
func parsePrincipal(v any) (principals, *Error) {
	ps := principals{present: true}
	switch v := v.(type) {
	case string:
		if v != "*" {
			return ps, invalidPrincipal(fmt.Sprintf("%q", v))
		}
		ps.anyone = true
		return ps, nil
	case map[string]any:
		if len(v) == 0 {
			return ps, invalidPrincipal("{}")
		}
		for _, typ := range sortedKeys(v) {
			raw := v[typ]
			values, err := stringList(raw)
			if err != nil || len(values) == 0 {
				return ps, invalidPrincipal(fmt.Sprintf("%q:%s", typ, jsonText(raw)))
			}
			for _, val := range values {
				if err := ps.add(typ, val); err != nil {
					return ps, err
				}
			}
		}
		return ps, nil
	}
	return ps, invalidPrincipal(jsonText(v))
}

func invalidPrincipal(what string) *Error {
	return malformed("Invalid principal in policy: " + what)
}

func (ps *principals) add(typ, val string) *Error {
	bad := invalidPrincipal(fmt.Sprintf("%q:%q", typ, val))
	switch typ {
	case "AWS":
		switch {
		case val == "*":
			ps.anyone = true
		case isAccountID(val):
			ps.accounts = append(ps.accounts, val)
		default:
			account, root, ok := parsePrincipalARN(val)
			if !ok {
				return bad
			}
			if root {
				ps.accounts = append(ps.accounts, account)
			} else {
				ps.arns = append(ps.arns, val)
			}
		}
	case "Service", "Federated", "CanonicalUser":
		if val == "" || strings.ContainsAny(val, "*?") {
			return bad
		}
	default:
		return bad
	}
	return nil
}

// parsePrincipalARN accepts arn:<partition>:iam::<account>:root|user/...|role/... and
// arn:<partition>:sts::<account>:assumed-role/...|federated-user/..., without wildcards.
func parsePrincipalARN(s string) (account string, root, ok bool) {
	parts, isARN := splitARN(s, false)
	if !isARN || strings.ContainsAny(s, "*?") || parts[1] == "" || parts[3] != "" || !isAccountID(parts[4]) {
		return "", false, false
	}
	res := parts[5]
	switch parts[2] {
	case "iam":
		if res == "root" {
			return parts[4], true, true
		}
		for _, prefix := range []string{"user/", "role/"} {
			if strings.HasPrefix(res, prefix) && len(res) > len(prefix) && !strings.HasSuffix(res, "/") {
				return parts[4], false, true
			}
		}
	case "sts":
		for _, prefix := range []string{"assumed-role/", "federated-user/"} {
			if strings.HasPrefix(res, prefix) && len(res) > len(prefix) {
				return parts[4], false, true
			}
		}
	}
	return "", false, false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// match reports how p matches a Principal element.
func (ps *principals) match(p *Principal) principalMatch {
	if ps.anyone {
		return matchNamed
	}
	switch p.Type {
	case User:
		if containsString(ps.arns, p.ARN) {
			return matchNamed
		}
		if containsString(ps.accounts, p.Account) {
			return matchAccount
		}
	case Root:
		if containsString(ps.accounts, p.Account) {
			return matchNamed
		}
	}
	return matchNone
}

// excludes reports whether a NotPrincipal element exempts p. IAM checks each identity the
// caller has (the account, then the user), so a user is exempt only when both the user's ARN
// and its account are listed; listing the account alone exempts only the root user.
func (ps *principals) excludes(p *Principal) bool {
	if ps.anyone {
		return true
	}
	switch p.Type {
	case User:
		return containsString(ps.arns, p.ARN) && containsString(ps.accounts, p.Account)
	case Root:
		return containsString(ps.accounts, p.Account)
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
