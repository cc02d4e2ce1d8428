package store

import (
	"strconv"
	"strings"
)

// where builds a WHERE clause with numbered parameters ($1, $2, ...), which both dialects read.
type where struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// add adds a condition whose one "?" stands for v.
func (w *where) add(cond string, v any) {
	w.conds = append(w.conds, strings.Replace(cond, "?", w.arg(v), 1))
}

// sql is " WHERE c1 AND c2 ...", or "" without conditions.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Page sizes of every list.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// pageSize is limit within 1..maxLimit, defaultLimit when not set.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return defaultLimit
	case limit > maxLimit:
		return maxLimit
	}
	return limit
}
