package jsonform

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const canary = "canary-jsonform-4Rt"

// TestFields checks the rule of DESIGN §4: a string member is its text,
// any other member its compact JSON form.
func TestFields(t *testing.T) {
	fields, err := Fields([]byte(`{"s": "t\u00e9xt \"` + canary + `\"", "empty": "", "n": 5432, "f": 1.50, "b": true,
		"z": null, "o": { "a" : 1, "b": [ 1, "x" ] }, "a": [ ]}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"s": `téxt "` + canary + `"`, "empty": "", "n": "5432", "f": "1.50", "b": "true",
		"z": "null", "o": `{"a":1,"b":[1,"x"]}`, "a": "[]",
	} {
		if got, ok := fields[k]; !ok || string(got) != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// TestNotAnObject checks that every value that is not a JSON object gives
// the same error, which never quotes the value.
func TestNotAnObject(t *testing.T) {
	for _, v := range []string{"", canary, `"` + canary + `"`, `["` + canary + `"]`, "null", `{"a": "` + canary + `"`, `{"a": "` + canary + `"} x`} {
		_, err := Fields([]byte(v))
		if err == nil || err.Error() != "the value is not a JSON object" {
			t.Errorf("Fields(%q) = %v", v, err)
		}
	}
	if _, err := Text(json.RawMessage(`{"a":` + canary)); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("Text of broken JSON: %v", err)
	}
}

func TestDescribeKeys(t *testing.T) {
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{nil, "no keys"},
		{[]string{"user", "password"}, `keys "password", "user"`},
		// In the order of the names, not of their quoted forms.
		{[]string{`a#`, `a"`}, `keys "a\"", "a#"`},
		{strings.Split("l k j i h g f e d c b a", " "), `keys "a", "b", "c", "d", "e", "f", "g", "h", "i", "j" and 2 more`},
	} {
		obj := map[string][]byte{}
		for _, k := range tt.keys {
			obj[k] = []byte(canary)
		}
		if got := DescribeKeys(obj); got != tt.want {
			t.Errorf("DescribeKeys(%q) = %s, want %s", tt.keys, got, tt.want)
		}
	}
}

// FuzzFields checks any input: an error never shows the value; a member
// that is a JSON string reads back as its text, any other member is
// JSON of the same value, without white space outside strings.
//
//	go test ./internal/jsonform -run '^$' -fuzz FuzzFields -fuzztime 60s -fuzzminimizetime 2s
func FuzzFields(f *testing.F) {
	f.Add(`{"a": "x", "b": 1, "c": {"d": [true, null]}}`)
	f.Add(`{"a": "` + canary + `"`)
	f.Add(`[1]`)
	f.Fuzz(func(t *testing.T, data string) {
		fields, err := Fields([]byte(data))
		if err != nil {
			if msg := err.Error(); msg != "the value is not a JSON object" && msg != "the value is not valid JSON" {
				t.Fatalf("an error that may show the value: %v", err)
			}
			return
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(data), &obj); err != nil {
			t.Fatalf("accepted what encoding/json rejects: %v", err)
		}
		for k, v := range obj {
			if s, ok := v.(string); ok {
				if string(fields[k]) != s {
					t.Fatalf("%q = %q, want %q", k, fields[k], s)
				}
				continue
			}
			var back any
			var compact bytes.Buffer
			if json.Unmarshal(fields[k], &back) != nil || !reflect.DeepEqual(back, v) ||
				json.Compact(&compact, fields[k]) != nil || compact.String() != string(fields[k]) {
				t.Fatalf("%q = %q is not the compact JSON form of %v", k, fields[k], v)
			}
		}
	})
}
