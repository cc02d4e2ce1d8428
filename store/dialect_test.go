package store

import "testing"

func TestDialectValues(t *testing.T) {
	for _, tt := range []struct {
		d          dialect
		rows, cols int
		want       string
	}{
		{sqlite, 2, 3, "(?, ?, ?), (?, ?, ?)"},
		{postgres, 2, 3, "($1, $2, $3), ($4, $5, $6)"},
		{postgres, 1, 1, "($1)"},
		{sqlite, 0, 3, ""},
	} {
		if got := tt.d.values(tt.rows, tt.cols); got != tt.want {
			t.Errorf("%s.values(%d, %d) = %q; want %q", tt.d, tt.rows, tt.cols, got, tt.want)
		}
	}
}
