package usage

import "fmt"

// Query selects day counts: the days From to To (both included), and optionally one site and
// some devices.
type Query struct {
	From, To Day
	Site     string   // only this site; empty: every site
	Devices  []string // only these devices; empty: every device
}

// Validate reports what is wrong with q: days that are not YYYY-MM-DD, or From after To.
func (q Query) Validate() error {
	if _, err := ParseDay(string(q.From)); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if _, err := ParseDay(string(q.To)); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if q.From > q.To {
		return fmt.Errorf("from %s is after to %s", q.From, q.To)
	}
	return nil
}
