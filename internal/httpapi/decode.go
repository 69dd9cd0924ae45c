package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// jsonFormat is how the edge reads and writes JSON bodies: huma's encoder, and decodeJSON.
var jsonFormat = huma.Format{Marshal: huma.DefaultJSONFormat.Marshal, Unmarshal: decodeJSON}

// decodeJSON decodes a request body as encoding/json does, with errors a client can be shown:
// a value of the wrong kind names the field and the JSON kind wanted, never a Go type
// ("json: cannot unmarshal string into Go struct field placeBody.items.quantity of type int"
// becomes "items.quantity: want an integer, got a string"), and a syntax error says where.
// huma reports either at location "body".
func decodeJSON(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return errors.New(typeMessage(typeErr))
	case errors.As(err, &syntaxErr):
		return errors.New("malformed JSON: " + syntaxErr.Error())
	}
	return errors.New("the body does not decode as this operation's input")
}

// typeMessage words a wrong-kind error: where, what JSON kind the field takes, what came.
func typeMessage(e *json.UnmarshalTypeError) string {
	where := "the body"
	if e.Field != "" {
		where = e.Field
	}
	want := jsonKind(e.Type)
	got, _, _ := strings.Cut(e.Value, " ") // "number 1e+30": the kind, never the value
	if got == "number" && (want == "an integer" || want == "a number") {
		return where + ": number out of range, want " + want + " in range"
	}
	return where + ": want " + want + ", got " + article(got)
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// article puts "a" or "an" before one of encoding/json's value kinds.
func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "number", "string", "bool":
		return "a " + strings.Replace(kind, "bool", "boolean", 1)
	}
	return "another kind of value"
}
