package jsondecode

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type record struct {
	Team  string   `json:"team"`
	Plans []string `json:"plans"`
}

// What both decoders accept comes out as the standard library decodes it.
func TestUnmarshalAccepts(t *testing.T) {
	var got record
	if err := Unmarshal([]byte(`{"team": "t1", "plans": ["a", "b"], "other": 1}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.Team != "t1" || strings.Join(got.Plans, ",") != "a,b" {
		t.Errorf("got %+v; want team t1, plans a,b", got)
	}
}

// What the fast decoder refuses gives the standard library's error, which quotes none of the
// input, and leaves nothing of the first attempt in v.
func TestUnmarshalErrorsAsTheStandardLibrary(t *testing.T) {
	for _, c := range []struct {
		data string
		as   any
	}{
		{`{"team": "P-SECRET-1", "plans": [1]}`, new(*json.UnmarshalTypeError)},
		{`{"team": "P-SECRET-1",`, new(*json.SyntaxError)},
	} {
		got := record{Team: "before"}
		err := Unmarshal([]byte(c.data), &got)
		want := json.Unmarshal([]byte(c.data), new(record))
		if err == nil || err.Error() != want.Error() || !errors.As(err, c.as) {
			t.Errorf("Unmarshal(%s) = %v; want the standard library's %v", c.data, err, want)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("the error %q quotes the input", err)
		}
		var std record // the standard library's alone, from the zero value
		json.Unmarshal([]byte(c.data), &std)
		if got.Team != std.Team || strings.Join(got.Plans, ",") != strings.Join(std.Plans, ",") {
			t.Errorf("Unmarshal(%s) left %+v; want %+v, as the standard library leaves the zero value", c.data, got, std)
		}
	}
}
