package alerts

import "time"

// The selections that the alert store takes: which alerts, burden figures and silences to list.
// They are the domain's terms, so that the store and the API meet on them without the API
// importing the store.

// Filter selects alerts, newest first. Empty fields select all.
type Filter struct {
	// Scope is what the viewer may see. The zero Scope sees nothing: set All for every alert.
	Scope       Scope
	State       State
	MinSeverity Severity // this severity or higher
	Rule        string
	Category    Category
	Patient     string
	Device      string
	Team        string
	Site        string
	// Since and Until bound the last measurement (last seen): Since <= last seen < Until.
	Since, Until time.Time
	// Before is a cursor: only alerts with an ID below it. Zero means from the newest.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

// BurdenFilter selects the alerts whose burden is reported.
type BurdenFilter struct {
	// Scope is what the viewer may see. The zero Scope sees nothing: set All for every alert.
	Scope Scope
	// From and To bound when the alerts were raised: From <= created < To. Both are required.
	From, To time.Time
	// Team and Site narrow the figures to the clinical alerts of Team and the faults of Site;
	// given both, to both. Empty: no narrowing.
	Team string
	Site string
	Rule string
}

// SilenceFilter selects silences, newest first.
type SilenceFilter struct {
	// Scope limits them to the patients of Scope.Teams and the devices at Scope.Sites, as the
	// registry has them now; Scope.All for every one.
	Scope Scope
	// Subject, if set, is the one patient or device.
	Subject Subject
	// EndsAfter, if set, leaves out silences that ended at or before it.
	EndsAfter time.Time
	// Before is a cursor: only silences with a smaller id.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}
