package engine

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// execTransaction runs BEGIN, COMMIT, ROLLBACK and friends.
func (s *session) execTransaction(n *pg.TransactionStmt, w pgwire.ResultWriter) (string, error) {
	switch n.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		if s.tx != nil && s.implicit {
			// BEGIN inside a multi-statement query turns its implicit
			// transaction into an explicit block.
			s.implicit = false
			return "BEGIN", s.beginOptions(n, w)
		}
		if s.tx != nil {
			return "BEGIN", w.Notice("WARNING", sqlerr.ActiveSQLTransaction, "there is already a transaction in progress")
		}
		s.tx = s.beginTxn()
		s.failed = false
		s.saved = copyVals(s.vals)
		return "BEGIN", s.beginOptions(n, w)
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		if s.tx == nil {
			return "COMMIT", w.Notice("WARNING", sqlerr.NoActiveSQLTransaction, "there is no transaction in progress")
		}
		tx := s.tx
		if s.failed {
			s.endTxn(w, true)
			tx.txn.Rollback()
			return "ROLLBACK", nil
		}
		s.endTxn(w, false)
		if err := s.e.commit(tx); err != nil {
			return "", err
		}
		return "COMMIT", nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		if s.tx == nil {
			return "ROLLBACK", w.Notice("WARNING", sqlerr.NoActiveSQLTransaction, "there is no transaction in progress")
		}
		tx := s.tx
		s.endTxn(w, true)
		tx.txn.Rollback()
		return "ROLLBACK", nil
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg.TransactionStmtKind_TRANS_STMT_RELEASE, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return s.execSavepoint(n)
	}
	return "", sqlerr.Unsupported("prepared transactions are not supported")
}

// execSavepoint runs SAVEPOINT, RELEASE [SAVEPOINT] and ROLLBACK TO
// [SAVEPOINT]. Rolling back to a savepoint also clears a failed block.
func (s *session) execSavepoint(n *pg.TransactionStmt) (string, error) {
	verb := map[pg.TransactionStmtKind]string{pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT: "SAVEPOINT",
		pg.TransactionStmtKind_TRANS_STMT_RELEASE: "RELEASE", pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO: "ROLLBACK"}[n.Kind]
	if s.tx == nil || s.implicit {
		return "", sqlerr.New(sqlerr.NoActiveSQLTransaction, "%s can only be used in transaction blocks", verb)
	}
	name := n.SavepointName
	if n.Kind == pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT {
		if s.failed {
			return "", errInFailedTxn()
		}
		s.savepoints = append(s.savepoints, savepoint{name: name, sp: s.tx.txn.Savepoint(),
			created: maps.Clone(s.tx.created), dropped: maps.Clone(s.tx.dropped), roles: maps.Clone(s.tx.roles),
			sequences: maps.Clone(s.tx.sequences), dropSeqs: maps.Clone(s.tx.droppedSeqs),
			views: slices.Clone(s.tx.views), comments: len(s.tx.comments), notifies: len(s.tx.notifies), vals: copyVals(s.vals), afterCommit: len(s.tx.afterCommit)})
		return "SAVEPOINT", nil
	}
	i := len(s.savepoints) - 1
	for i >= 0 && s.savepoints[i].name != name {
		i--
	}
	if i < 0 {
		return "", sqlerr.New("3B001", "savepoint \"%s\" does not exist", name)
	}
	if n.Kind == pg.TransactionStmtKind_TRANS_STMT_RELEASE {
		if s.failed {
			return "", errInFailedTxn()
		}
		s.savepoints = s.savepoints[:i]
		return "RELEASE", nil
	}
	sp := s.savepoints[i]
	s.tx.txn.RollbackTo(sp.sp)
	s.tx.created, s.tx.dropped, s.tx.roles = maps.Clone(sp.created), maps.Clone(sp.dropped), maps.Clone(sp.roles)
	for _, q := range s.tx.sequences {
		// Their records are written in the transaction, and RollbackTo
		// may just have undone the latest.
		s.e.sequences.unlog(q.OID)
	}
	s.tx.sequences, s.tx.droppedSeqs = maps.Clone(sp.sequences), maps.Clone(sp.dropSeqs)
	s.tx.views = slices.Clone(sp.views)
	s.tx.comments = s.tx.comments[:sp.comments]
	s.tx.notifies = s.tx.notifies[:sp.notifies]
	s.tx.afterCommit = s.tx.afterCommit[:sp.afterCommit]
	s.vals = copyVals(sp.vals)
	s.applyConfig()
	s.savepoints = s.savepoints[:i+1]
	s.failed = false
	return "ROLLBACK", nil
}

// beginOptions applies BEGIN's transaction modes (the isolation level lasts
// for the block, like SET LOCAL).
func (s *session) beginOptions(n *pg.TransactionStmt, w pgwire.ResultWriter) error {
	for _, o := range n.Options {
		d := o.GetDefElem()
		if d == nil || d.Defname != "transaction_isolation" {
			continue
		}
		level, err := checkIsolation(s, defString(d))
		if err != nil {
			return err
		}
		s.tx.isolation = level
	}
	return nil
}

// setIsolation sets the isolation level of the transaction block (SET
// TRANSACTION, SET transaction_isolation); outside one it changes nothing
// beyond the statement itself, as in Postgres.
func (s *session) setIsolation(level string) error {
	if s.tx == nil || s.tx.isolation == level {
		return nil
	}
	if s.tx.ranQuery {
		return sqlerr.New(sqlerr.ActiveSQLTransaction, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
	}
	s.tx.isolation = level
	return nil
}

// setLocal sets a value until the end of the transaction block.
func (s *session) setLocal(name, v string, w pgwire.ResultWriter) error {
	key := lower(name)
	if s.local == nil {
		s.local = map[string]string{}
	}
	if _, seen := s.local[key]; !seen {
		old, _ := s.get(key)
		s.local[key] = old
	}
	return s.set(name, v, w)
}

// endTxn leaves the transaction block; rollback restores the settings, and
// either way SET LOCAL values and cursors end.
func (s *session) endTxn(w pgwire.ResultWriter, rollback bool) {
	if rollback && s.tx != nil {
		s.closeDeclaredIn(s.tx)
	}
	s.closeCursors()
	if rollback && s.saved != nil {
		s.restore(s.saved, w)
	}
	for k, v := range s.local {
		if rollback {
			continue
		}
		_ = s.set(k, v, w)
	}
	s.tx, s.failed, s.saved, s.implicit, s.local, s.savepoints = nil, false, nil, false, nil, nil
	s.releaseXactLocks()
}

// execSet runs SET and RESET.
func (s *session) execSet(n *pg.VariableSetStmt, w pgwire.ResultWriter) (string, error) {
	switch n.Kind {
	case pg.VariableSetKind_VAR_RESET:
		return "RESET", s.reset(n.Name, w)
	case pg.VariableSetKind_VAR_RESET_ALL:
		for _, st := range settingList {
			if !st.readOnly {
				if err := s.reset(st.name, w); err != nil {
					return "", err
				}
			}
		}
		for k := range s.vals {
			delete(s.vals, k)
		}
		s.applyConfig()
		return "RESET", nil
	case pg.VariableSetKind_VAR_SET_DEFAULT:
		return "SET", s.reset(n.Name, w)
	case pg.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …
		for _, a := range n.Args {
			if d := a.GetDefElem(); d != nil && d.Defname == "transaction_isolation" {
				level, err := checkIsolation(s, defString(d))
				if err != nil {
					return "", err
				}
				switch {
				case n.Name == "SESSION CHARACTERISTICS":
					if err := s.set("default_transaction_isolation", level, w); err != nil {
						return "", err
					}
				case s.tx == nil:
					return "SET", w.Notice("WARNING", sqlerr.NoActiveSQLTransaction, "SET TRANSACTION can only be used in transaction blocks")
				default:
					if err := s.setIsolation(level); err != nil {
						return "", err
					}
				}
			}
		}
		return "SET", nil
	case pg.VariableSetKind_VAR_SET_CURRENT:
		return "SET", nil
	}
	name := n.Name
	var parts []string
	for _, a := range n.Args {
		parts = append(parts, setArg(a, lower(name)))
	}
	v := strings.Join(parts, ", ")
	if lower(name) == "timezone" && len(n.Args) == 1 {
		if tc := n.Args[0].GetTypeCast(); tc != nil {
			// SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE
			iv, err := types.ParseText(types.Interval, nodeString(tc.Arg), s.cfg)
			if err != nil {
				return "", err
			}
			if x, ok := iv.(types.IntervalValue); ok {
				secs := x.Micros / 1e6
				v = formatHours(secs)
			}
		}
	}
	if n.IsLocal {
		if s.tx == nil {
			return "SET", w.Notice("WARNING", sqlerr.NoActiveSQLTransaction, "SET LOCAL can only be used in transaction blocks")
		}
		return "SET", s.setLocal(name, v, w)
	}
	return "SET", s.set(name, v, w)
}

func formatHours(secs int64) string {
	return strconv.FormatFloat(float64(secs)/3600, 'f', -1, 64)
}

// setArg renders one SET argument; identifiers in search_path are quoted
// when needed, as Postgres stores them.
func setArg(a *pg.Node, name string) string {
	c := a.GetAConst()
	if c == nil {
		return nodeString(a)
	}
	v := aConstString(c)
	if name == "search_path" {
		if _, ok := c.Val.(*pg.A_Const_Sval); ok && needsQuote(v) {
			return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
	}
	return v
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || (i > 0 && c >= '0' && c <= '9')) {
			return true
		}
	}
	return false
}

// execShow runs SHOW name and SHOW ALL.
func (s *session) execShow(n *pg.VariableShowStmt, w pgwire.ResultWriter) error {
	name := lower(n.Name)
	if name == "all" {
		ch := coldata.NewChunk([]*types.T{types.Text, types.Text, types.Text}, len(settingList))
		for _, st := range settingList {
			v, _ := s.get(st.name)
			ch.AppendRow([]types.Datum{st.name, v, st.desc})
		}
		return w.WriteChunk(ch)
	}
	v, ok := s.get(name)
	if !ok {
		return sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", n.Name)
	}
	ch := coldata.NewChunk([]*types.T{types.Text}, 1)
	ch.AppendRow([]types.Datum{v})
	return w.WriteChunk(ch)
}
