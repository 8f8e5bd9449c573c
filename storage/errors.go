package storage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// serializationFailure is SQLSTATE 40001.
// NB: not (yet) among the sqlerr constants; storage may only touch its own files.
const serializationFailure = "40001"

// errDuplicateKey is Postgres' unique-violation error for the primary key.
func errDuplicateKey(t *Table, key []types.Datum) error {
	names := make([]string, len(t.info.PK))
	vals := make([]string, len(t.info.PK))
	for i, c := range t.info.PK {
		names[i] = t.colName(c)
		vals[i] = formatDatum(key[i])
	}
	return sqlerr.New(sqlerr.UniqueViolation,
		"duplicate key value violates unique constraint %q", t.info.Name+"_pkey").
		WithDetail("Key (%s)=(%s) already exists.", strings.Join(names, ", "), strings.Join(vals, ", "))
}

// errConcurrentUpdate is returned when a row this txn writes was deleted or
// updated by a transaction that committed meanwhile.
func errConcurrentUpdate() error {
	return sqlerr.New(serializationFailure, "could not serialize access due to concurrent update")
}

func errTxnDone() error {
	return sqlerr.New(sqlerr.InvalidTransactionState, "storage: transaction already committed or rolled back")
}

func errDropped(t *Table) error {
	return sqlerr.New(serializationFailure, "could not serialize access: table %q was dropped concurrently", t.info.Name)
}

// errAppendOnly refuses to change committed rows of an append-only table (a
// transaction's own pending rows it may drop).
func errAppendOnly(t *Table) error {
	return sqlerr.Bug("storage: table %q is append-only", t.info.Name)
}

// errCorrupt reports bytes read from disk that do not decode.
func errCorrupt(format string, args ...any) error {
	return sqlerr.New(sqlerr.DataCorrupted, "storage: corrupt data: "+format, args...)
}

// wrapPebble converts an error from Pebble into a SQL error.
func wrapPebble(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pebble.ErrCorruption) {
		return sqlerr.Wrap(sqlerr.DataCorrupted, err)
	}
	return sqlerr.Wrap(sqlerr.InternalError, err)
}

// formatDatum renders a value the way Postgres prints it in a key detail.
func formatDatum(d types.Datum) string {
	switch x := d.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "t"
		}
		return "f"
	case types.IntervalValue:
		return fmt.Sprintf("%d mons %d days %d us", x.Months, x.Days, x.Micros)
	case *types.Array:
		parts := make([]string, len(x.Elems))
		for i, e := range x.Elems {
			parts[i] = formatDatum(e)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprint(d)
}
