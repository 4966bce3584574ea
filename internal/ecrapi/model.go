package ecrapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// The ECR service model (botocore/Smithy JSON), embedded as data: every
// input is validated against its constraints, and tests check that every
// response member and exception Berth sends is one the model declares.
//
//go:embed model/ecr-2015-09-21.service.json
var modelJSON []byte

// model is the part of the service model Berth uses.
type model struct {
	ops    map[string]*modelOp
	shapes map[string]*modelShape
}

type modelOp struct {
	Name   string
	Input  string
	Output string
	Errors []string
}

type modelShape struct {
	Type     string
	Members  map[string]string // member name -> shape
	Required map[string]bool
	Min, Max *float64
	Pattern  *regexp.Regexp
	Enum     map[string]bool
	Member   string // list element shape
	Key      string // map key shape
	Value    string // map value shape
}

// loadModel parses the embedded model.
func loadModel() (*model, error) {
	var raw struct {
		Operations map[string]struct {
			Name   string                   `json:"name"`
			Input  struct{ Shape string }   `json:"input"`
			Output struct{ Shape string }   `json:"output"`
			Errors []struct{ Shape string } `json:"errors"`
		} `json:"operations"`
		Shapes map[string]struct {
			Type     string                            `json:"type"`
			Members  map[string]struct{ Shape string } `json:"members"`
			Required []string                          `json:"required"`
			Min      *float64                          `json:"min"`
			Max      *float64                          `json:"max"`
			Pattern  string                            `json:"pattern"`
			Enum     []string                          `json:"enum"`
			Member   struct{ Shape string }            `json:"member"`
			Key      struct{ Shape string }            `json:"key"`
			Value    struct{ Shape string }            `json:"value"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(modelJSON, &raw); err != nil {
		return nil, fmt.Errorf("ecr model: %w", err)
	}
	m := &model{ops: map[string]*modelOp{}, shapes: map[string]*modelShape{}}
	for name, o := range raw.Operations {
		op := &modelOp{Name: name, Input: o.Input.Shape, Output: o.Output.Shape}
		for _, e := range o.Errors {
			op.Errors = append(op.Errors, e.Shape)
		}
		m.ops[name] = op
	}
	for name, s := range raw.Shapes {
		sh := &modelShape{Type: s.Type, Min: s.Min, Max: s.Max, Member: s.Member.Shape, Key: s.Key.Shape,
			Value: s.Value.Shape, Members: map[string]string{}, Required: map[string]bool{}}
		for mn, mem := range s.Members {
			sh.Members[mn] = mem.Shape
		}
		for _, r := range s.Required {
			sh.Required[r] = true
		}
		if s.Pattern != "" {
			// Model patterns are unanchored; AWS applies them to the whole value.
			re, err := regexp.Compile(`^(?:` + s.Pattern + `)$`)
			if err != nil {
				return nil, fmt.Errorf("ecr model: shape %s pattern: %w", name, err)
			}
			sh.Pattern = re
		}
		if len(s.Enum) > 0 {
			sh.Enum = map[string]bool{}
			for _, e := range s.Enum {
				sh.Enum[e] = true
			}
		}
		m.shapes[name] = sh
	}
	return m, nil
}

// violation is one failed constraint, worded as AWS words them.
type violation struct {
	member string
	detail string
}

func (v *violation) Error() string {
	return fmt.Sprintf("Invalid parameter at '%s' failed to satisfy constraint: '%s'", v.member, v.detail)
}

// validate checks a decoded request struct against the shape's
// constraints. Struct fields map to members by their json tag.
func (m *model) validate(shape string, v reflect.Value, path string) error {
	sh := m.shapes[shape]
	if sh == nil {
		return nil
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch sh.Type {
	case "structure":
		return m.validateStruct(sh, v, path)
	case "list":
		if err := checkRange(sh, float64(v.Len()), path, "list length"); err != nil {
			return err
		}
		for i := 0; i < v.Len(); i++ {
			if err := m.validate(sh.Member, v.Index(i), fmt.Sprintf("%s.%d", path, i+1)); err != nil {
				return err
			}
		}
	case "map":
		if err := checkRange(sh, float64(v.Len()), path, "map size"); err != nil {
			return err
		}
		iter := v.MapRange()
		for iter.Next() {
			if err := m.validate(sh.Value, iter.Value(), path+"."+iter.Key().String()); err != nil {
				return err
			}
		}
	case "string":
		return m.validateString(sh, v.String(), path)
	case "blob":
		return checkRange(sh, float64(v.Len()), path, "length")
	case "integer", "long":
		return checkRange(sh, float64(v.Int()), path, "value")
	}
	return nil
}

func (m *model) validateStruct(sh *modelShape, v reflect.Value, path string) error {
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		memberShape, ok := sh.Members[name]
		if !ok {
			continue
		}
		f := v.Field(i)
		if isAbsent(f) {
			continue
		}
		seen[name] = true
		if err := m.validate(memberShape, f, join(path, name)); err != nil {
			return err
		}
	}
	for r := range sh.Required {
		if !seen[r] {
			return &violation{join(path, r), "Member must not be null"}
		}
	}
	return nil
}

func (m *model) validateString(sh *modelShape, s, path string) error {
	if err := checkRange(sh, float64(len([]rune(s))), path, "length"); err != nil {
		return err
	}
	if sh.Enum != nil && !sh.Enum[s] {
		keys := slices.Sorted(maps.Keys(sh.Enum))
		return &violation{path, "Member must satisfy enum value set: [" + strings.Join(keys, ", ") + "]"}
	}
	if sh.Pattern != nil && !sh.Pattern.MatchString(s) {
		pat := strings.TrimSuffix(strings.TrimPrefix(sh.Pattern.String(), "^(?:"), ")$")
		return &violation{path, "Member must satisfy regular expression pattern: " + pat}
	}
	return nil
}

func checkRange(sh *modelShape, n float64, path, what string) error {
	if sh.Min != nil && n < *sh.Min {
		return &violation{path, fmt.Sprintf("Member must have %s greater than or equal to %g", what, *sh.Min)}
	}
	if sh.Max != nil && n > *sh.Max {
		return &violation{path, fmt.Sprintf("Member must have %s less than or equal to %g", what, *sh.Max)}
	}
	return nil
}

// isAbsent: a nil pointer, slice or map means the member was not sent.
func isAbsent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}

func join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}
