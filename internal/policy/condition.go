package policy

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// opKind is a condition operator family. Negated operators (StringNotEquals, NotIpAddress, ...)
// are stored as their positive family plus condition.negated.
type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opARNLike // ArnEquals and ArnLike behave identically in IAM
	opNull
)

type operator struct {
	kind    opKind
	negated bool
}

var operators = map[string]operator{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opARNLike, false},
	"ArnLike":                   {opARNLike, false},
	"ArnNotEquals":              {opARNLike, true},
	"ArnNotLike":                {opARNLike, true},
	"Null":                      {opNull, false},
}

// setOp is a ForAnyValue/ForAllValues qualifier.
type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

// condition is one (operator, key, values) triple; a statement's conditions are ANDed and a
// condition's values ORed.
type condition struct {
	op       opKind
	negated  bool
	ifExists bool
	set      setOp
	key      keyRef
	values   []condValue
	hasVars  bool // some value holds a policy variable
}

// condValue is one policy value, precompiled for its operator.
type condValue struct {
	str  pattern     // String*
	arn  *arnPattern // Arn*
	num  float64     // Numeric*
	t    time.Time   // Date*
	b    bool        // Bool, Null
	ip   netip.Prefix
	bin  string // BinaryEquals: the decoded bytes
	text string // as written
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (operator, setOp, bool, *Error) {
	base, set := name, setNone
	if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		base, set = rest, setAnyValue
	} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		base, set = rest, setAllValues
	}
	base, ifExists := strings.CutSuffix(base, "IfExists")
	op, ok := operators[base]
	if !ok || op.kind == opNull && (ifExists || set != setNone) {
		return operator{}, 0, false, malformed("Invalid Condition type : " + name)
	}
	return op, set, ifExists, nil
}

// parseConditions compiles a Condition element.
func parseConditions(v any, vars bool) ([]condition, *Error) {
	block, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxError("Condition must be an object")
	}
	var out []condition
	for _, opName := range sortedKeys(block) {
		rawKeys := block[opName]
		op, set, ifExists, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		keys, ok := rawKeys.(map[string]any)
		if !ok || len(keys) == 0 {
			return nil, syntaxError("condition %s must map condition keys to values", clip(opName))
		}
		for _, keyName := range sortedKeys(keys) {
			rawValues := keys[keyName]
			if vendor, _, ok := strings.Cut(keyName, ":"); !ok || vendor == "" {
				return nil, malformed(msgVendor)
			}
			texts, lerr := stringList(rawValues)
			if lerr != nil || len(texts) == 0 {
				return nil, syntaxError("condition %s %s must have one or more string values", clip(opName), clip(keyName))
			}
			c := condition{op: op.kind, negated: op.negated, ifExists: ifExists, set: set, key: parseKey(keyName)}
			for _, text := range texts {
				cv, err := compileValue(op.kind, text, vars)
				if err != nil {
					return nil, syntaxError("condition %s %s: %s", clip(opName), clip(keyName), err.Error())
				}
				c.values = append(c.values, cv)
				c.hasVars = c.hasVars || cv.str.hasVars || cv.arn != nil && cv.arn.hasVars()
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// valueError is a policy value that its operator cannot use.
type valueError string

func (e valueError) Error() string { return string(e) }

func compileValue(op opKind, text string, vars bool) (condValue, error) {
	cv := condValue{text: text}
	var err error
	switch op {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike:
		cv.str, err = compilePattern(text, vars, op == opStringLike, op == opStringEqualsIgnoreCase)
		if e, ok := err.(*Error); ok {
			err = valueError(e.Detail)
		}
	case opARNLike:
		var a arnPattern
		a, err = compileARNPattern(text, vars)
		if e, ok := err.(*Error); ok {
			err = valueError(e.Detail)
		}
		cv.arn = &a
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		if cv.num, err = strconv.ParseFloat(text, 64); err != nil {
			err = valueError("invalid number " + strconv.Quote(clip(text)))
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		var ok bool
		if cv.t, ok = parseDate(text); !ok {
			err = valueError("invalid date " + strconv.Quote(clip(text)))
		}
	case opBool, opNull:
		switch {
		case strings.EqualFold(text, "true"):
			cv.b = true
		case strings.EqualFold(text, "false"):
		default:
			err = valueError("value must be true or false, got " + strconv.Quote(clip(text)))
		}
	case opBinaryEquals:
		var b []byte
		if b, err = base64.StdEncoding.DecodeString(text); err != nil {
			err = valueError("invalid base64 value " + strconv.Quote(clip(text)))
		}
		cv.bin = string(b)
	case opIPAddress:
		cv.ip, err = parseCIDR(text)
	}
	return cv, err
}

func parseCIDR(text string) (netip.Prefix, error) {
	if strings.Contains(text, "/") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return p, valueError("invalid CIDR " + strconv.Quote(clip(text)))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Prefix{}, valueError("invalid IP address " + strconv.Quote(clip(text)))
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// dateLayouts are the ISO 8601 forms IAM accepts besides epoch seconds.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"20060102T150405Z0700",
	"20060102T150405Z",
	"2006-01-02",
}

// parseDate parses an IAM date value: ISO 8601 (UTC when no zone) or UNIX epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && s[0] != '+' {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// eval evaluates c against r. The rules are IAM's: a missing key makes the condition false,
// except that negated operators, ...IfExists and ForAllValues are then true, and Null tests
// presence itself. An unresolvable policy variable in a value makes the condition false.
func (c *condition) eval(r *Request) bool {
	if c.hasVars && !c.resolvable(r) {
		return false
	}
	var v, tmp ctxValue
	present := r.lookup(c.key, &v)
	if c.op == opNull {
		for i := range c.values {
			if c.values[i].b != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.negated
	}
	n := v.count()
	switch c.set {
	case setAnyValue, setAllValues:
		all := c.set == setAllValues
		for i := 0; i < n; i++ {
			m, ok := c.matchAny(v.at(i, &tmp), r)
			if !ok {
				return false
			}
			if ok := m != c.negated; ok != all {
				return ok
			}
		}
		return all
	}
	// No qualifier: a multi-valued key is treated as ForAnyValue for positive operators, and a
	// negated operator holds only when no value matches.
	for i := 0; i < n; i++ {
		m, ok := c.matchAny(v.at(i, &tmp), r)
		if !ok {
			return false
		}
		if m {
			return !c.negated
		}
	}
	return c.negated
}

func (c *condition) resolvable(r *Request) bool {
	for i := range c.values {
		cv := &c.values[i]
		if !cv.str.resolvable(r) || cv.arn != nil && !cv.arn.resolvable(r) {
			return false
		}
	}
	return true
}

// matchAny reports whether one context value matches any of the policy values (the positive
// operator). ok is false when a policy variable could not be resolved.
func (c *condition) matchAny(v *ctxValue, r *Request) (matched, ok bool) {
	for i := range c.values {
		m, res := c.matchOne(&c.values[i], v, r)
		if !res {
			return false, false
		}
		if m {
			return true, true
		}
	}
	return false, true
}

func (c *condition) matchOne(cv *condValue, v *ctxValue, r *Request) (matched, resolved bool) {
	switch c.op {
	case opStringEquals, opStringLike:
		return cv.str.match(v.String(), r)
	case opStringEqualsIgnoreCase:
		if cv.str.plain {
			return strings.EqualFold(v.String(), cv.text), true
		}
		return cv.str.match(v.String(), r)
	case opARNLike:
		return cv.arn.match(v.String(), r)
	case opBool:
		if v.kind == valBool {
			return v.b == cv.b, true
		}
		return strings.EqualFold(v.s, cv.text), true
	case opBinaryEquals:
		return v.kind == valString && v.s == cv.bin, true
	case opIPAddress:
		ip := v.ip
		if v.kind != valIP {
			a, err := netip.ParseAddr(v.s)
			if err != nil {
				return false, true
			}
			ip = a.Unmap()
		}
		return cv.ip.Contains(ip), true
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := v.t, v.kind == valTime || v.kind == valEpoch
		if !ok {
			if t, ok = parseDate(v.s); !ok {
				return false, true
			}
		}
		return compareOrdered(c.op-opDateEquals, t.Compare(cv.t)), true
	default: // Numeric*
		var f float64
		if v.kind == valEpoch {
			f = float64(v.t.Unix())
		} else {
			var err error
			if f, err = strconv.ParseFloat(v.s, 64); err != nil {
				return false, true
			}
		}
		cmp := 0
		if f < cv.num {
			cmp = -1
		} else if f > cv.num {
			cmp = 1
		}
		return compareOrdered(c.op-opNumericEquals, cmp), true
	}
}

// compareOrdered applies the n-th of Equals, LessThan, LessThanEquals, GreaterThan,
// GreaterThanEquals to a comparison result (context value versus policy value).
func compareOrdered(n opKind, cmp int) bool {
	switch n {
	case 0:
		return cmp == 0
	case 1:
		return cmp < 0
	case 2:
		return cmp <= 0
	case 3:
		return cmp > 0
	default:
		return cmp >= 0
	}
}
