package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The policy is decoded into a small tree rather than into structs because
// encoding/json is too lenient for validation: it matches keys case-
// insensitively, keeps the last of duplicate keys, and cannot tell a null
// from an absent member.

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

type jsonValue struct {
	kind    jsonKind
	text    string       // a string's value or a number's literal
	items   []jsonValue  // an array's elements
	members []jsonMember // an object's members in document order
}

type jsonMember struct {
	key   string
	value jsonValue
}

// decodeJSON parses text as exactly one JSON value. json.Unmarshal checks
// the syntax first because its errors carry absolute offsets (a Decoder's
// are relative to its buffer); the token walk then cannot fail.
func decodeJSON(text string) (jsonValue, *InvalidPolicyError) {
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return jsonValue{}, invalidf("the policy is not valid JSON: %v", err)
		}
		if se.Offset >= int64(len(text)) && strings.HasPrefix(se.Error(), "unexpected end") {
			return jsonValue{}, invalidf("the policy is not valid JSON: unexpected end of text")
		}
		return jsonValue{}, invalidf("the policy is not valid JSON: %s", syntaxMessage(text, se))
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	v, err := readValue(d)
	if err != nil {
		return v, invalidf("the policy is not valid JSON: %v", err)
	}
	return v, nil
}

// syntaxMessage words a syntax error with its 1-based character position.
// encoding/json names the offending byte, not the character, so a
// multi-byte character is re-quoted whole.
func syntaxMessage(text string, se *json.SyntaxError) string {
	off := min(int(se.Offset), len(text))
	at := utf8.RuneCountInString(text[:off])
	msg := se.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid character "); ok && off > 0 {
		if i := strings.LastIndex(rest, "' "); i >= 0 {
			r, _ := utf8.DecodeRuneInString(text[off-1:]) // the text is valid UTF-8: off-1 starts the character
			msg = "invalid character " + strconv.QuoteRune(r) + rest[i+1:]
		}
	}
	return fmt.Sprintf("%s (at character %d)", msg, at)
}

func readValue(d *json.Decoder) (jsonValue, error) {
	tok, err := d.Token()
	if err != nil {
		return jsonValue{}, err
	}
	switch t := tok.(type) {
	case nil:
		return jsonValue{kind: jsonNull}, nil
	case bool:
		return jsonValue{kind: jsonBool}, nil
	case json.Number:
		return jsonValue{kind: jsonNumber, text: string(t)}, nil
	case string:
		return jsonValue{kind: jsonString, text: t}, nil
	case json.Delim:
		if t == '[' {
			return readArray(d)
		}
		if t == '{' {
			return readObject(d)
		}
	}
	return jsonValue{}, fmt.Errorf("unexpected %v", tok)
}

func readArray(d *json.Decoder) (jsonValue, error) {
	v := jsonValue{kind: jsonArray}
	for d.More() {
		item, err := readValue(d)
		if err != nil {
			return v, err
		}
		v.items = append(v.items, item)
	}
	_, err := d.Token() // ']'
	return v, err
}

func readObject(d *json.Decoder) (jsonValue, error) {
	v := jsonValue{kind: jsonObject}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return v, err
		}
		key, _ := tok.(string) // the decoder only yields strings in key position
		item, err := readValue(d)
		if err != nil {
			return v, err
		}
		v.members = append(v.members, jsonMember{key, item})
	}
	_, err := d.Token() // '}'
	return v, err
}

// object checks that v at path is an object whose keys are all in known,
// each at most once and none null, and returns its members by key.
func object(v jsonValue, path string, known ...string) (map[string]jsonValue, *InvalidPolicyError) {
	if v.kind != jsonObject {
		return nil, invalidf("%s must be an object, got %s", path, v.kind)
	}
	out := make(map[string]jsonValue, len(v.members))
	for _, m := range v.members {
		if !slices.Contains(known, m.key) {
			return nil, unknownField(path, m.key, known)
		}
		if _, dup := out[m.key]; dup {
			return nil, invalidf("%s has the field %q more than once", path, m.key)
		}
		if m.value.kind == jsonNull {
			return nil, invalidf("%s must not be null", join(path, m.key))
		}
		out[m.key] = m.value
	}
	return out, nil
}

func unknownField(path, key string, known []string) *InvalidPolicyError {
	where := path
	if where == "" {
		where = "the policy"
	}
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return invalidf("%s has the unknown field %s (field names are case-sensitive: did you mean %q?)", where, quote(key), k)
		}
	}
	return invalidf("%s has the unknown field %s; allowed fields are %s", where, quote(key), strings.Join(known, ", "))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
