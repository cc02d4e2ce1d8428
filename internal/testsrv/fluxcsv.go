package testsrv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseAnnotatedCSV reads a Flux result in annotated CSV (InfluxData's "Annotated CSV" syntax):
// each group of tables with one schema starts with #datatype, #group and #default rows and a header
// row, and every row has an empty first column where the annotations go. A result that failed after the response had begun is a table
// with the columns "error" and "reference"; it is returned as an error.
func parseAnnotatedCSV(body []byte) ([]map[string]string, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1 // tables of one response differ in width

	var (
		rows     []map[string]string
		header   []string // nil until the header row of the current table group
		defaults []string // the #default annotation row of the current group
	)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("annotated CSV: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // the blank line after the last table is read as one empty cell
		}
		if strings.HasPrefix(rec[0], "#") {
			if header != nil { // annotations after a header begin the next group
				header, defaults = nil, nil
			}
			if rec[0] == "#default" {
				defaults = rec
			}
			continue
		}
		if header == nil {
			header = rec
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("annotated CSV: row has %d columns, header %d: %q", len(rec), len(header), rec)
		}
		row := make(map[string]string, len(header))
		for j, name := range header {
			if j == 0 && name == "" {
				continue // the annotation column
			}
			v := rec[j]
			if v == "" && j < len(defaults) {
				v = defaults[j]
			}
			row[name] = v
		}
		if isErrorTable(header) {
			return nil, fmt.Errorf("query failed: %s (reference %q)", row["error"], row["reference"])
		}
		rows = append(rows, row)
	}
}

func isErrorTable(header []string) bool {
	return len(header) == 3 && header[0] == "" && header[1] == "error" && header[2] == "reference"
}
