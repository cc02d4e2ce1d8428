package devices

import (
	"fmt"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// PatientChange is what a patch changes of a patient: each field that is not nil. The team is
// not among them: a patient changes team by a Transfer.
type PatientChange struct {
	Plans     *[]string
	BirthYear *int // 0: unknown
}

// BatchError is the row that failed a batch of new registry rows (sites, teams, patients), which
// then stored nothing: its index in the batch and the reason, an *errcode.Error that errors.As
// finds through it.
type BatchError struct {
	Index int
	Err   *errcode.Error
}

func (e *BatchError) Error() string { return fmt.Sprintf("row %d: %v", e.Index, e.Err) }

// Unwrap returns the row's reason.
func (e *BatchError) Unwrap() error { return e.Err }
