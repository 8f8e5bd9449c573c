package pgwire

import (
	"context"

	"github.com/sluice-db/sluice/sqlerr"
)

// Statements are a connection's named prepared statements. As in Postgres
// they are one namespace for the protocol's Parse and Close and for SQL's
// PREPARE, EXECUTE and DEALLOCATE, which the backend runs through
// StatementsOf. The unnamed statement is the protocol's alone.
type Statements interface {
	// Lookup finds a named statement.
	Lookup(name string) (Statement, bool)
	// Add names st; 42P05 when the name is taken.
	Add(name string, st Statement) error
	// Remove drops a named statement; 26000 when there is none. Portals
	// bound from it stay open.
	Remove(name string) error
	// RemoveAll drops every named statement.
	RemoveAll()
}

type statementsKey struct{}

// StatementsOf returns the prepared statements of the connection whose
// Session, Statement or Portal call received ctx (nil for any other
// context). Like the rest of the connection's state, they may be used only
// during that call, on its goroutine.
func StatementsOf(ctx context.Context) Statements {
	s, _ := ctx.Value(statementsKey{}).(Statements)
	return s
}

// connStatements is Statements over a connection's map.
type connStatements struct{ c *conn }

func (s connStatements) Lookup(name string) (Statement, bool) {
	if ps := s.c.stmts[name]; ps != nil && name != "" {
		return ps.st, true
	}
	return nil, false
}

func (s connStatements) Add(name string, st Statement) error {
	if name == "" {
		return sqlerr.Bug("Statements.Add of the unnamed statement")
	}
	if _, ok := s.c.stmts[name]; ok {
		return sqlerr.New(sqlerr.DuplicatePreparedStatement, "prepared statement %q already exists", name)
	}
	s.c.stmts[name] = &prepared{name: name, st: st}
	return nil
}

func (s connStatements) Remove(name string) error {
	if _, ok := s.c.stmts[name]; !ok || name == "" {
		return sqlerr.New(sqlerr.InvalidSQLStatementName, "prepared statement %q does not exist", name)
	}
	delete(s.c.stmts, name)
	return nil
}

func (s connStatements) RemoveAll() {
	for name := range s.c.stmts {
		if name != "" {
			delete(s.c.stmts, name)
		}
	}
}
