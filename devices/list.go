package devices

// ListOptions selects and pages a list of registry rows, ordered by id. Each list takes only the
// filters that apply to it and refuses the others.
type ListOptions struct {
	Site   string // teams, patients (through their team) and devices at this site
	Team   string // patients of this team
	Kind   string // devices of this kind
	Status string // devices with this status
	Mode   string // devices in this mode
	// After is a cursor: only rows whose id sorts after it (byte by byte). Pass the last id of a
	// page to get the next one.
	After string
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

// MoveFilter selects moves, newest first.
type MoveFilter struct {
	State  string   // only moves in this state
	Sites  []string // only moves from or to one of these sites
	Device string   // only moves of this device
	// Before is a cursor: only moves with an ID below it. Zero means from the newest.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}
