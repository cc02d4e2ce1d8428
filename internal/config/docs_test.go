package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// operationsDoc is the operator's reference, whose table of keys must agree with keys.go.
const operationsDoc = "../../docs/operations.md"

// The table of keys in docs/operations.md lists exactly the keys of keys.go, one a row, each with
// the default written there, so that the docs and the code cannot drift apart.
func TestOperationsDocListsEveryKeyWithItsDefault(t *testing.T) {
	body, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := docKeyRows(string(body))
	if err != nil {
		t.Fatalf("%s: %v", operationsDoc, err)
	}
	documented := map[string]docKeyRow{}
	for _, r := range rows {
		if first, ok := documented[r.key]; ok {
			t.Errorf("%s line %d: %s is listed again (first on line %d)", operationsDoc, r.line, r.key, first.line)
			continue
		}
		documented[r.key] = r
		if _, ok := lookup(r.key); !ok {
			t.Errorf("%s line %d: %s is not a key of keys.go", operationsDoc, r.line, r.key)
		}
	}
	for _, k := range keys {
		want := docDefault(k.Default)
		r, ok := documented[k.Name]
		if !ok {
			t.Errorf("%s: key %s is missing from the table of keys; add | `%s` | %s | ... |", operationsDoc, k.Name, k.Name, want)
			continue
		}
		if r.def != want {
			t.Errorf("%s line %d: default of %s = %s; want %s, as in keys.go", operationsDoc, r.line, k.Name, r.def, want)
		}
	}
}

// keyTableHeader opens the table of keys in docs/operations.md.
const keyTableHeader = "| key | default | meaning |"

// docKeyRow is one row of the table of keys: the key, its default cell as written, and its line.
type docKeyRow struct {
	key, def string
	line     int
}

// docKeyRows returns the rows of the one table of keys in doc. Each row must name one key, in
// backticks, so that a row covering several keys cannot hide one of them.
func docKeyRows(doc string) ([]docKeyRow, error) {
	lines := strings.Split(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) != keyTableHeader {
			continue
		}
		if start >= 0 {
			return nil, fmt.Errorf("two tables open with %q (lines %d and %d)", keyTableHeader, start+1, i+1)
		}
		start = i
	}
	if start < 0 {
		return nil, fmt.Errorf("no table opens with %q", keyTableHeader)
	}
	var rows []docKeyRow
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		// The meaning, the last cell, may hold an escaped \|; the key and default may not.
		cells := strings.SplitN(lines[i], "|", 4)
		if len(cells) < 4 {
			return nil, fmt.Errorf("line %d: want | key | default | meaning |, got %q", i+1, lines[i])
		}
		key := strings.TrimSpace(cells[1])
		name := strings.Trim(key, "`")
		if key != "`"+name+"`" || name == "" || strings.ContainsAny(name, "`, ") {
			return nil, fmt.Errorf("line %d: key cell %s is not one key in backticks", i+1, key)
		}
		rows = append(rows, docKeyRow{key: name, def: strings.TrimSpace(cells[2]), line: i + 1})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("line %d: the table of keys has no rows", start+1)
	}
	return rows, nil
}

// docDefault is a default as the table of keys writes it: "empty" for an empty string, else the
// value in backticks, as vitalwatch.example.yaml writes it (durations as 15m, not 15m0s).
func docDefault(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return "empty"
		}
		return "`" + s + "`"
	}
	return "`" + scalar(v) + "`"
}
