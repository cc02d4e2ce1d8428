package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// CreateSites creates every site in one transaction, or none of them: the first site that
// CreateSite would refuse fails the whole call with a *devices.BatchError naming it. Each site
// gets its own audit row, as if created one by one.
func (s *Registry) CreateSites(ctx context.Context, sites []devices.Site) error {
	return createBatch(ctx, s.DB, "site", sites, func(x devices.Site) string { return x.ID },
		func(x devices.Site) error { return x.Validate() }, insertSite)
}

// CreateTeams creates every team in one transaction, or none of them, as CreateSites does.
func (s *Registry) CreateTeams(ctx context.Context, teams []devices.Team) error {
	return createBatch(ctx, s.DB, "team", teams, func(x devices.Team) string { return x.ID },
		func(x devices.Team) error { return x.Validate() }, insertTeam)
}

// CreatePatients creates every patient in one transaction, or none of them, as CreateSites
// does.
func (s *Registry) CreatePatients(ctx context.Context, patients []devices.Patient) error {
	return createBatch(ctx, s.DB, "patient", patients, func(x devices.Patient) string { return x.ID },
		func(x devices.Patient) error { return x.Validate() }, insertPatient)
}

// createBatch validates every row, then inserts them all in one registry change with an audit
// row "<what>.create" each. A refused row is returned as a *devices.BatchError; a database
// failure as an ordinary error. A row sees the rows before it: a duplicate id within the batch
// is refused.
func createBatch[T any](ctx context.Context, s *DB, what string, rows []T, id func(T) string,
	validate func(T) error, insert func(context.Context, *sql.Tx, T) (any, error)) error {
	refused := func(i int, err error) error {
		var de *errcode.Error
		if errors.As(err, &de) {
			return &devices.BatchError{Index: i, Err: de}
		}
		return fmt.Errorf("create %s %s: %w", what, id(rows[i]), err)
	}
	for i, r := range rows {
		if err := validate(r); err != nil {
			return refused(i, err)
		}
	}
	return s.mutate(ctx, "create "+what+"s", func(tx *sql.Tx, actor string) error {
		for i, r := range rows {
			detail, err := insert(ctx, tx, r)
			if err != nil {
				return refused(i, err)
			}
			if err := s.audit(ctx, tx, actor, what+".create", what+"/"+id(r), detail); err != nil {
				return refused(i, err)
			}
		}
		return nil
	})
}
