package engine

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
)

// execTruncate runs TRUNCATE within ts: it deletes every row of each table;
// RESTART IDENTITY restarts their identity columns once ts commits.
// Streams are append-only and views change only with what they read, so
// only tables can be truncated.
func (st *statement) execTruncate(ts *txnState, n *pg.TruncateStmt) (string, error) {
	s := st.s
	var tables []*storage.Table
	var ids []uint32
	for _, rn := range n.Relations {
		rv := rn.GetRangeVar()
		schema, err := s.tableSchema(rv, st)
		if err != nil {
			return "", err
		}
		t, ok := s.lookupTable(schema, rv.Relname)
		if !ok {
			return "", errUndefinedRelation(rv.Relname).At(st.pos(rv.Location))
		}
		if t.Kind != catalog.KindTable {
			return "", sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a table", rv.Relname).
				WithHint("Only tables can be truncated: streams are append-only, and views change only with the relations they read.").At(st.pos(rv.Location))
		}
		tbl, err := s.storedTableIn(ts, t)
		if err != nil {
			return "", err
		}
		tables, ids = append(tables, tbl), append(ids, t.ID)
	}
	for _, tbl := range tables {
		if err := deleteAll(ts.txn, tbl); err != nil {
			return "", err
		}
	}
	if n.RestartSeqs {
		// Identity columns number again from the largest stored value: none.
		ts.afterCommit = append(ts.afterCommit, func() error {
			for _, id := range ids {
				s.e.identities.forget(id)
			}
			return nil
		})
	}
	return "TRUNCATE TABLE", nil
}

// storedTableIn returns the storage of table t as transaction ts sees it.
func (s *session) storedTableIn(ts *txnState, t *catalog.Table) (*storage.Table, error) {
	if ct, ok := ts.created[t.ID]; ok {
		return ct.tbl, nil
	}
	if tbl, ok := s.e.db.Table(t.ID); ok {
		return tbl, nil
	}
	if err := s.e.damaged.err(t.ID); err != nil {
		return nil, err
	}
	return nil, errUndefinedRelation(t.Name)
}

// deleteAll deletes every row of tbl that txn sees.
func deleteAll(txn *storage.Txn, tbl *storage.Table) error {
	scan := txn.Scan(tbl)
	var all []int
	for {
		_, positions, ok := scan.Next()
		if !ok {
			break
		}
		all = append(all, positions...)
	}
	if err := scan.Err(); err != nil {
		return err
	}
	return txn.Delete(tbl, all)
}
