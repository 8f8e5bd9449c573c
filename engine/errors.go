package engine

import (
	"errors"

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
