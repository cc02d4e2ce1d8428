package reading

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	segjson "github.com/segmentio/encoding/json"
)

// FuzzDecodersAgree checks what unmarshal relies on: a payload that segmentio's decoder accepts
// into one of the contract's shapes (a telemetry message, a SenML pack, a status), the standard
// library accepts too, into the same value, unless checkKeys rejects the payload (a key that
// differs from a contract key only by Unicode folding, such as "ſystolic", sets the field in
// the standard library and not in segmentio's decoder: Decode rejects such a payload after
// either). A payload that segmentio's refuses is decoded again by the standard library, so it
// needs no check. Seeds are FuzzDecode's (its f.Add calls are
// repeated in agreeSeeds, its files read from testdata/fuzz/FuzzDecode) and payloads that tell
// JSON decoders apart: escapes, invalid UTF-8, folded keys, big and odd numbers, nesting.
func FuzzDecodersAgree(f *testing.F) {
	for _, seed := range agreeSeeds {
		f.Add([]byte(seed))
	}
	for _, seed := range corpusSeeds(f, filepath.Join("testdata", "fuzz", "FuzzDecode")) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		shapes := []struct {
			name string
			new  func() any // a value as Decode prepares it
			keys *objectKeys
		}{
			{"telemetry", func() any { w := new(telemetry); w.Readings = w.buf[:0]; return w }, telemetryKeys},
			{"SenML pack", func() any { var buf [4]senmlRecord; records := buf[:0]; return &records }, senmlPackKeys},
			{"status", func() any { return new(status) }, statusKeys},
		}
		for _, shape := range shapes {
			fast, std := shape.new(), shape.new()
			if segjson.Unmarshal(payload, fast) != nil {
				continue
			}
			if err := json.Unmarshal(payload, std); err != nil {
				t.Fatalf("%s %q: segmentio's decoder accepts it, the standard library says %v", shape.name, payload, err)
			}
			if !reflect.DeepEqual(fast, std) && checkKeys(payload, shape.keys).reason == "" {
				t.Fatalf("%s %q: segmentio's decoder gives %+v, the standard library %+v", shape.name, payload, fast, std)
			}
		}
	})
}

// agreeSeeds are payloads on which JSON decoders are known to differ.
var agreeSeeds = []string{
	designExample,
	string(typical),
	`{"readings":[{"type":"glucose","value":115,"unit":"mg/dL","context":"before_meal","source":"cgm"}]}`,
	`[{"bn":"urn:dev:id:dev-42:","bt":1795303800,"bu":"mmHg","n":"systolic","v":142},{"n":"diastolic","v":91}]`,
	`{"ts":"2026-11-22T07:30:00+08:00","battery":78,"signal":-67,"firmware":"2.4.1","flags":["battery_low"],"online":true}`,
	// Flags are plain strings, decoded by the decoder itself: escapes, surrogates, invalid UTF-8.
	`{"flags":["battery\u005flow","\ud800","\ud83d\ude00","a\"b\\c\/d\b\f\n\r\t"],"readings":[{"type":"sos"}]}`,
	"{\"flags\":[\"\xff\xfe\",\"ok\xc3\"],\"readings\":[{\"type\":\"sos\"}]}",
	"{\"flags\":[\"\x01\"],\"readings\":[{\"type\":\"sos\"}]}",
	`{"flags":null,"readings":null}`,
	`{"flags":[null,"a"],"readings":[null,{"type":"sos"}]}`,
	`{"flags":[],"readings":[]}`,
	// Keys: case variants, Unicode folding (ſ, K), escapes, duplicates, unknown keys of every type.
	`{"READINGS":[{"TYPE":"sos"}],"Flags":["x"],"ſeq":1,"\u0070atient":"P-1"}`,
	`{"readings":[{"type":"bp","\u017fystolic":200,"systolic":120,"diastolic":80}],"readings":[{"type":"sos"}]}`,
	`{"x":{"y":[1,2,{"z":null}]},"w":"\u0000","v":true,"u":-0.0e-0,"readings":[{"type":"sos","q":[[]]}]}`,
	"{\"re\xffadings\":[],\"readings\":[{\"type\":\"sos\"}]}",
	// Numbers at the edges of their grammar and range.
	`{"seq":9007199254740993,"battery":1e400,"readings":[{"type":"glucose","value":-0,"unit":"mg/dL"}]}`,
	`{"seq":1.0e3,"battery":0.000000000000000000001,"readings":[{"type":"steps","value":1E+2}]}`,
	`{"seq":-9223372036854775809,"readings":[{"type":"steps","value":12345678901234567890123}]}`,
	// Malformed: the standard library must refuse what segmentio's refuses, or segmentio's must.
	`{"readings":[{"type":"sos"}],}`, `{"readings":[{"type":"sos",}]}`, `{"seq":01}`, `{"seq":1.}`,
	`{"seq":.5}`, `{"seq":+1}`, `{"seq":0x10}`, `{"seq":NaN}`, `{"a" 1}`, `{'a':1}`, `{"a":1}x`,
	`{"a":1} `, " \t\r\n{\"readings\":[{\"type\":\"sos\"}]}\n", `{"a":"\x"}`, `{"a":"\u12"}`,
	"{\"a\":\"\t\"}", `[{"n":"fall","vb":true}][]`, `{"readings":[{"type":"sos"}]`, `nul`, `true`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`{"readings":{"type":"sos"}}`, `{"flags":"x","readings":[{"type":"sos"}]}`, `[1]`, `[{"n":1}]`,
}

// corpusSeeds reads the payloads of a fuzz target's corpus directory (files of the form
// "go test fuzz v1" then one []byte("...") line).
func corpusSeeds(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var seeds [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			tb.Fatalf("%s: not a corpus file of one []byte", e.Name())
		}
		quoted, ok := strings.CutPrefix(lines[1], "[]byte(")
		quoted, ok2 := strings.CutSuffix(quoted, ")")
		s, err := strconv.Unquote(quoted)
		if !ok || !ok2 || err != nil {
			tb.Fatalf("%s: not a corpus file of one []byte", e.Name())
		}
		seeds = append(seeds, []byte(s))
	}
	if len(seeds) == 0 {
		tb.Fatalf("%s: no corpus files", dir)
	}
	return seeds
}
