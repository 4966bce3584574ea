package oci

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// decodeError turns an encoding/json error into a message about the manifest, naming the field
// by its JSON path (e.g. "layers.size") and the JSON type it must have.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return newError(ErrManifestInvalid, "invalid JSON syntax at byte %d: %s",
			syntax.Offset, syntax.Error())
	}
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) {
		return newError(ErrManifestInvalid, "cannot decode manifest: %s", err)
	}
	if typ.Field == "" {
		return newError(ErrManifestInvalid, "manifest must be a JSON object, not %s",
			shorten(typ.Value))
	}
	// encoding/json reports an element of an array or a value of an object with the path of
	// the container and the type of the element; say so, or "annotations must be a string"
	// would be nonsense.
	field := fieldType(reflect.TypeFor[wireManifest](), typ.Field)
	if field != nil && typ.Type != field {
		switch field.Kind() {
		case reflect.Slice:
			return newError(ErrManifestInvalid, "each element of field %q must be %s, not %s",
				typ.Field, jsonTypeName(typ.Type), shorten(typ.Value))
		case reflect.Map:
			return newError(ErrManifestInvalid, "each value of field %q must be %s, not %s",
				typ.Field, jsonTypeName(typ.Type), shorten(typ.Value))
		}
	}
	return newError(ErrManifestInvalid, "field %q must be %s, not %s",
		typ.Field, jsonTypeName(typ.Type), shorten(typ.Value))
}

// fieldType returns the Go type (pointers removed) of the field at a dotted JSON path such as
// "manifests.platform.os.features", or nil if the path does not resolve. Array and object
// levels do not appear in such paths, so they are stepped through.
func fieldType(t reflect.Type, path string) reflect.Type {
	for {
		t = deref(t)
		if path == "" {
			return t
		}
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = deref(t.Elem())
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		// JSON names may contain dots ("os.features"), so take the longest name that matches.
		var next reflect.Type
		matched := 0
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if len(name) > matched && (path == name || strings.HasPrefix(path, name+".")) {
				next, matched = t.Field(i).Type, len(name)
			}
		}
		if next == nil {
			return nil
		}
		t, path = next, strings.TrimPrefix(path[matched:], ".")
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonTypeName names the JSON type a Go type decodes from, for "field X must be an array".
func jsonTypeName(t reflect.Type) string {
	switch deref(t).Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	}
	return "a " + deref(t).Kind().String()
}

// shorten bounds the value description of an UnmarshalTypeError ("number 1e999999...").
func shorten(v string) string {
	if len(v) <= maxQuoted {
		return v
	}
	return v[:maxQuoted] + "..."
}
