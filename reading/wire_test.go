package reading

import "testing"

func TestCountElements(t *testing.T) {
	tests := []struct {
		json string
		want int
	}{
		{`[]`, 0},
		{`[ ]`, 0},
		{`[1]`, 1},
		{`[1,2,3]`, 3},
		{`[{"a":[1,2],"b":{"c":3,"d":4}},[5,6]]`, 2},
		{`["a,b","c\",d",",]"]`, 3},
		{`["\\",1]`, 2},
		{`{"a":1,"b":2}`, 0},
		{`"a,b"`, 0},
		{`null`, 0},
	}
	for _, tt := range tests {
		if got := countElements([]byte(tt.json)); got != tt.want {
			t.Errorf("countElements(%q) = %d; want %d", tt.json, got, tt.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct {
		json string
		want string
	}{
		{`"glucose"`, "glucose"},
		{`"P-000123"`, "P-000123"},
		{`"caf\u00e9"`, "café"},
		{`"a\"b\\c\/d"`, `a"b\c/d`},
		{"\"\xff\"", "\uFFFD"},
		{`""`, ""},
	}
	for _, tt := range tests {
		if got := unquote([]byte(tt.json)); got != tt.want {
			t.Errorf("unquote(%q) = %q; want %q", tt.json, got, tt.want)
		}
	}
}
