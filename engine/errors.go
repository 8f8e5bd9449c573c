package engine

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

func errDuplicateTable(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.DuplicateTable, "relation \"%s\" already exists", name)
}

func errUndefinedTable(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.UndefinedTable, "table \"%s\" does not exist", name)
}

func errUndefinedRelation(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.UndefinedTable, "relation \"%s\" does not exist", name)
}

func errInFailedTxn() *sqlerr.Error {
	return sqlerr.New(sqlerr.InFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
}

func errStatementTimeout() *sqlerr.Error {
	return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to statement timeout")
}

var errLockTimeoutCause = errors.New("lock timeout")

func errLockTimeout() *sqlerr.Error {
	return sqlerr.New(sqlerr.LockNotAvailable, "canceling statement due to lock timeout")
}

func errUserCancel() *sqlerr.Error {
	return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
}

// errUnrecognizedOption is the error for a WITH option that a kind of
// object does not take, listing those it does.
func errUnrecognizedOption(kind, name string, valid map[string]bool) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized %s option \"%s\"", kind, name).
		WithHint("Valid options are: %s.", strings.Join(slices.Sorted(maps.Keys(valid)), ", "))
}
