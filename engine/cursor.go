package engine

import (
	"context"
	"fmt"
	"math"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// Cursor options of DECLARE (Postgres' CURSOR_OPT_*).
const (
	cursorOptBinary = 0x0001
	cursorOptScroll = 0x0002
	cursorOptHold   = 0x0020
)

// queryCursor is a cursor over a query (DECLARE c CURSOR FOR SELECT …), as
// psycopg2's and psycopg 3's named cursors declare: a portal that each
// FETCH resumes for up to n rows.
type queryCursor struct {
	p *portal
	// hold: WITH HOLD, the cursor outlives its transaction block.
	hold bool
	// block is the transaction block that declared the cursor (nil
	// outside one): its ROLLBACK closes even a held cursor.
	block *txnState
}

// execDeclare runs DECLARE c CURSOR [WITH HOLD] FOR query; the statement
// planned the query (with its parameters) and p holds their values. A
// cursor without hold lives in its transaction block; one with hold reads
// in a transaction of its own until CLOSE or the end of the session.
// NB: unlike Postgres', a cursor reads its rows when FETCH asks for them
// (storage keeps no snapshot for it), so it sees what was committed by
// then, and a held cursor declared in a block does not see the block's own
// uncommitted writes.
func (p *portal) execDeclare(n *pg.DeclareCursorStmt) (string, error) {
	st := p.st
	s := st.s
	hold := n.Options&cursorOptHold != 0
	switch {
	case n.Options&cursorOptBinary != 0:
		return "", sqlerr.Unsupported("DECLARE BINARY CURSOR is not supported")
	case n.Options&cursorOptScroll != 0:
		return "", sqlerr.Unsupported("DECLARE SCROLL CURSOR is not supported")
	case !hold && s.tx == nil:
		return "", sqlerr.New(sqlerr.NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	case s.cursors[n.Portalname] != nil || s.queries[n.Portalname] != nil:
		return "", sqlerr.New(sqlerr.DuplicateCursor, "cursor \"%s\" already exists", n.Portalname)
	}
	inner := &statement{s: s, text: st.text, ast: n.Query, charOff: st.charOff,
		planned: st.planned, planVer: st.planVer, cols: resultColumns(st.planned.Columns)}
	c := &queryCursor{p: &portal{st: inner, params: p.params, planned: inner.planned}, hold: hold, block: s.tx}
	if hold {
		c.p.ts, c.p.own = s.beginTxn(), true
	}
	if s.queries == nil {
		s.queries = map[string]*queryCursor{}
	}
	s.queries[n.Portalname] = c
	return "DECLARE CURSOR", nil
}

// fetch runs FETCH (or MOVE) n on the cursor: the next up to n rows.
func (c *queryCursor) fetch(ctx context.Context, n *pg.FetchStmt, w pgwire.ResultWriter) (string, error) {
	if n.Direction != pg.FetchDirection_FETCH_FORWARD || n.HowMany < 0 {
		return "", sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "cursor can only scan forward")
	}
	if n.HowMany == 0 {
		return "", sqlerr.Unsupported("FETCH 0 is not supported")
	}
	maxRows := 0 // FETCH ALL
	if n.HowMany < math.MaxInt32 {
		maxRows = int(n.HowMany)
	}
	cw := &countingWriter{ResultWriter: w, discard: n.Ismove}
	if _, _, err := c.p.runQuery(ctx, maxRows, cw); err != nil {
		return "", err
	}
	verb := "FETCH"
	if n.Ismove {
		verb = "MOVE"
	}
	return fmt.Sprintf("%s %d", verb, cw.rows), nil
}

// countingWriter counts the rows written through it; MOVE discards them.
type countingWriter struct {
	pgwire.ResultWriter
	discard bool
	rows    int64
}

func (w *countingWriter) WriteChunk(ch *coldata.Chunk) error {
	w.rows += int64(ch.Len)
	if w.discard {
		return nil
	}
	return w.ResultWriter.WriteChunk(ch)
}

// CursorColumns implements pgwire.Session.
func (s *session) CursorColumns(name string) ([]pgwire.Column, bool) {
	if c := s.queries[name]; c != nil {
		return c.p.st.cols, true
	}
	if r := s.cursors[name]; r != nil {
		return r.cols, true
	}
	return nil, false
}

// closeDeclaredIn closes the query cursors block declared (at its ROLLBACK).
func (s *session) closeDeclaredIn(block *txnState) {
	for name, c := range s.queries {
		if c.block == block {
			c.p.Close()
			delete(s.queries, name)
		}
	}
}

// closeQueryCursors closes the query cursors: all of them, or (at the end
// of a transaction block) those without hold.
func (s *session) closeQueryCursors(all bool) {
	for name, c := range s.queries {
		if all || !c.hold {
			c.p.Close()
			delete(s.queries, name)
		}
	}
}
