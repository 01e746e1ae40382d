package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// scanCases are bodies scanPayload must decode itself (fast: true) or
// leave to encoding/json; either way decodePayload's answer is
// encoding/json's.
var scanCases = []struct {
	name, body string
	fast       bool
}{
	{"every field", `{"issue_id":"prl_1","url":"https://x/e/1","project":"web","level":"error",
		"exception":{"type":"TypeError","message":"m","stack":"at f (a.js:1:2)\nat g"},"message":"top",
		"environment":"production","release":"1.2.3","first_seen":"2025-03-04T04:00:00Z",
		"last_seen":"2025-03-04T05:00:00+01:00","event_count":148,"users_affected":0,"trigger":"spike","channel":"C0123ABCD"}`, true},
	{"escapes", `{"issue_id":"a\"b\\c\/d\b\f\n\r\t","url":"\u00e9\u0000\u20ac"}`, true},
	{"utf-8", `{"issue_id":"héllo ✓ 🎉"}`, true},
	{"unknown fields of every kind", ` { "fingerprint" : ["a",1,-2.5e+3,true,false,null,{"x":{"y":[]}}], "issue_id":"a", "tags":{}, "n":0, "f":-0.5E-7 } `, true},
	{"unknown in exception", `{"exception":{"type":"E","frames":[{"file":"a.js","line":3}],"module":null}}`, true},
	{"empty object", `{}`, true},
	{"negative count", `{"event_count":-3}`, true},
	{"largest fast integer", `{"event_count":999999999999999999}`, true},

	{"case-folded key", `{"Issue_ID":"a"}`, false},
	{"case-folded exception key", `{"exception":{"TYPE":"E"}}`, false},
	{"escaped key", `{"issue\u005fid":"a"}`, false},
	{"non-ASCII key", `{"ſtack":"a"}`, false},
	{"repeated field", `{"issue_id":"a","issue_id":"b"}`, false},
	{"repeated exception", `{"exception":{"type":"A"},"exception":{"message":"B"}}`, false},
	{"repeated exception field", `{"exception":{"type":"A","type":"B"}}`, false},
	{"null string", `{"issue_id":null}`, false},
	{"null exception", `{"exception":null}`, false},
	{"surrogate pair", `{"issue_id":"\ud83c\udf89"}`, false},
	{"lone surrogate", `{"issue_id":"\ud83c"}`, false},
	{"invalid UTF-8", "{\"issue_id\":\"a\xffb\"}", false},
	{"invalid UTF-8 with escape", "{\"issue_id\":\"\\n\xff\"}", false},
	{"fraction", `{"event_count":1.5}`, false},
	{"exponent", `{"event_count":1e2}`, false},
	{"big integer", `{"event_count":9223372036854775807}`, false},
	{"overflow", `{"users_affected":1e30}`, false},
	{"string count", `{"event_count":"42"}`, false},
	{"number string", `{"issue_id":123}`, false},
	{"deep unknown", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false},

	{"leading zero", `{"event_count":01}`, false},
	{"leading zero unknown", `{"x":01}`, false},
	{"bad fraction", `{"x":1.}`, false},
	{"bad exponent", `{"x":1e}`, false},
	{"bad escape", `{"issue_id":"\x"}`, false},
	{"bad unicode escape", `{"issue_id":"\u12g4"}`, false},
	{"bad escape unknown", `{"x":"\q"}`, false},
	{"control character", "{\"issue_id\":\"a\tb\"}", false},
	{"trailing comma", `{"issue_id":"a",}`, false},
	{"trailing data", `{"issue_id":"a"} {}`, false},
	{"truncated", `{"issue_id":"a"`, false},
	{"truncated string", `{"issue_id":"a`, false},
	{"missing colon", `{"issue_id" "a"}`, false},
	{"bad literal", `{"x":nul}`, false},
	{"array", `[1,2]`, false},
	{"null body", `null`, false},
	{"empty", ``, false},
	{"blank", ` `, false},
}

func TestScanPayloadAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, c := range scanCases {
		t.Run(c.name, func(t *testing.T) {
			var fast alertPayload
			if got := scanPayload([]byte(c.body), &fast); got != c.fast {
				t.Fatalf("scanPayload took it: %v, want %v", got, c.fast)
			}
			var want alertPayload
			wantErr := json.Unmarshal([]byte(c.body), &want)
			if c.fast {
				if wantErr != nil {
					t.Fatalf("scanned a body encoding/json refuses: %v", wantErr)
				}
				if !reflect.DeepEqual(fast, want) {
					t.Fatalf("scanned\n%+v\nencoding/json\n%+v", fast, want)
				}
			}
			got, err := decodePayload([]byte(c.body))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("decodePayload error %v, encoding/json's %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("decodePayload\n%+v\nencoding/json\n%+v", got, want)
			}
		})
	}
}

// TestScanPayloadTakesTheDemoAlert: the bodies the bench and the demo send
// (the shape Proliferate sends) take the fast path.
func TestScanPayloadTakesTheDemoAlert(t *testing.T) {
	t.Parallel()
	body := mustJSON(t, validPayload())
	var p alertPayload
	if !scanPayload(body, &p) {
		t.Fatalf("scanPayload left %s to encoding/json", body)
	}
	if p.Exception == nil || p.Exception.Stack != "at f (a.js:1:2)\nat g (b.js:3:4)" || p.EventCount != 42 {
		t.Fatalf("scanned %+v", p)
	}
}

// FuzzScanPayload: whatever scanPayload decodes, encoding/json decodes
// alike.
func FuzzScanPayload(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast alertPayload
		if !scanPayload(body, &fast) {
			return
		}
		var want alertPayload
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanned %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q: scanned\n%+v\nencoding/json\n%+v", body, fast, want)
		}
	})
}

// BenchmarkDecodePayload compares the webhook's decode with encoding/json
// alone on the test payload.
//
//	go test -run '^$' -bench DecodePayload ./httpapi
func BenchmarkDecodePayload(b *testing.B) {
	body := mustJSON(b, validPayload())
	b.Run("decodePayload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePayload(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
