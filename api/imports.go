package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Bulk import: POST /api/v1/{sites,teams,patients,devices}/import with a CSV file (the formats
// of package csvimport) as a text/csv body. Every row is checked against the caller's access
// as if created alone; a row the caller may not create is refused with the reason "forbidden".
// Without ?atomic=true the good rows are kept; with it, nothing is stored unless every row is.

// maxCSVBody bounds an uploaded CSV file.
const maxCSVBody = 32 << 20

// importReport is the answer to an import.
type importReport struct {
	// Imported lists the ids stored, in the order of the file.
	Imported []string `json:"imported"`
	// Errors lists the rows not stored, by line (the header is line 1): rows that could not be
	// read, that the store refused, or that the caller may not import ("forbidden").
	Errors []rowErrorJSON `json:"errors"`
	// Secrets are the MQTT secrets made for new devices that had none in the file; shown once.
	Secrets []deviceSecretJSON `json:"secrets,omitempty"`
}

// rowErrorJSON is a row of a CSV file that was not imported.
type rowErrorJSON struct {
	Line int `json:"line"`
	// Column is the column at fault when the reason is about one cell (a value that is not a
	// number, an id that is taken, a site that does not exist); absent otherwise.
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// readCSV checks an import request (?atomic=, a text/csv body) and reads its file with parse.
func readCSV[T any](c *call, parse func(io.Reader) ([]csvimport.Row[T], []csvimport.RowError, error)) (
	rows []csvimport.Row[T], bad []csvimport.RowError, atomic bool, err error) {
	if v := c.q.Get("atomic"); v != "" {
		if atomic, err = strconv.ParseBool(v); err != nil {
			return nil, nil, false, invalid("atomic: must be true or false")
		}
	}
	if mt, _, err := mime.ParseMediaType(c.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		return nil, nil, false, apiError(CodeUnsupportedMediaType, "Content-Type: send the file as text/csv")
	}
	if rows, bad, err = parse(http.MaxBytesReader(nil, c.Body, maxCSVBody)); err != nil {
		return nil, nil, false, fileError(err)
	}
	return rows, bad, atomic, nil
}

// fileError is the 400 for a file that cannot be read at all (no header, an unknown column).
func fileError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return invalid(fmt.Sprintf("body: larger than %d bytes", maxCSVBody))
	}
	return invalid("file: " + err.Error())
}

// importer stores the rows of one kind of file.
type importer[T any] struct {
	id    func(T) string
	allow func(T) bool                     // whether the caller may create the row
	one   func(context.Context, T) error   // stores one row
	all   func(context.Context, []T) error // stores every row or none (a *devices.BatchError names the refused one)
}

// run stores the good rows, after those csvimport could not read (bad). It returns the report
// and the lines stored.
func (im importer[T]) run(ctx context.Context, rows []csvimport.Row[T], bad []csvimport.RowError, atomic bool) (importReport, []int, error) {
	rep := importReport{Imported: []string{}, Errors: []rowErrorJSON{}}
	for _, e := range bad {
		rep.Errors = append(rep.Errors, rowErrorJSON{Line: e.Line, Column: e.Column, Reason: e.Reason})
	}
	var allowed []csvimport.Row[T]
	for _, row := range rows {
		if !im.allow(row.Value) {
			rep.Errors = append(rep.Errors, rowErrorJSON{Line: row.Line, Reason: "forbidden"})
			continue
		}
		allowed = append(allowed, row)
	}
	var stored []int
	switch {
	case atomic && len(rep.Errors) > 0, len(allowed) == 0: // nothing to store
	case atomic:
		vals := make([]T, len(allowed))
		for i, row := range allowed {
			vals[i] = row.Value
		}
		var be *devices.BatchError
		err := im.all(ctx, vals)
		switch {
		case errors.As(err, &be) && be.Index < len(allowed):
			rep.Errors = append(rep.Errors, rowErrorJSON{Line: allowed[be.Index].Line, Column: be.Err.Field, Reason: be.Err.Message})
		case err != nil:
			return rep, nil, err
		default:
			for _, row := range allowed {
				rep.Imported = append(rep.Imported, im.id(row.Value))
				stored = append(stored, row.Line)
			}
		}
	default:
		for _, row := range allowed {
			var de *errcode.Error
			err := im.one(ctx, row.Value)
			switch {
			case errors.As(err, &de):
				rep.Errors = append(rep.Errors, rowErrorJSON{Line: row.Line, Column: de.Field, Reason: de.Message})
			case err != nil:
				return rep, nil, err
			default:
				rep.Imported = append(rep.Imported, im.id(row.Value))
				stored = append(stored, row.Line)
			}
		}
	}
	slices.SortStableFunc(rep.Errors, func(a, b rowErrorJSON) int { return a.Line - b.Line })
	return rep, stored, nil
}

// importDevices imports devices; a fleet manager only at their own sites. A device without a
// secret in the file gets a new one, in the answer once.
func (a *API) importDevices(c *call) error {
	rows, bad, atomic, err := readCSV(c, csvimport.Devices)
	if err != nil {
		return err
	}
	made := map[int]deviceSecretJSON{} // by line: the secret made for a device without one
	withHash := make([]csvimport.Row[devices.Device], len(rows))
	for i, row := range rows {
		d, secret := row.Value.Device, row.Value.Secret
		if secret == "" {
			secret = devices.NewSecret()
			made[row.Line] = deviceSecretJSON{Device: d.ID, Secret: secret}
		}
		d.SecretHash = devices.HashSecret(secret)
		withHash[i] = csvimport.Row[devices.Device]{Line: row.Line, Value: d}
	}
	rep, stored, err := importer[devices.Device]{
		id:    func(d devices.Device) string { return d.ID },
		allow: func(d devices.Device) bool { return c.p.CanSite(d.SiteID) },
		one:   a.opts.Registry.CreateDevice,
		all:   a.opts.Registry.CreateDevices,
	}.run(c.Context(), withHash, bad, atomic)
	if err != nil {
		return err
	}
	for _, line := range stored {
		if secret, ok := made[line]; ok {
			rep.Secrets = append(rep.Secrets, secret)
		}
	}
	return c.reply(rep)
}
