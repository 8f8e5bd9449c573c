package engine

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// Sluice has one database, which every database name connects to. CREATE
// DATABASE records one more name for it, listed in pg_database from then
// on, so that tools that create their database when pg_database does not
// list it (dbmate up, dbmate create) go on to connect; DROP DATABASE is
// refused, as it would delete nothing.

// execCreateDatabase runs CREATE DATABASE name [options]; the options
// change nothing.
func (st *statement) execCreateDatabase(n *pg.CreatedbStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	if s.tx != nil {
		return "", sqlerr.New(sqlerr.ActiveSQLTransaction, "CREATE DATABASE cannot run inside a transaction block")
	}
	e := s.e
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	if _, ok := e.cat.DatabaseNamed(n.Dbname); ok || n.Dbname == s.database {
		return "", sqlerr.New(sqlerr.DuplicateDatabase, "database \"%s\" already exists", n.Dbname)
	}
	d := &catalog.DatabaseName{OID: e.cat.AllocID(), Name: n.Dbname}
	b, err := d.Encode()
	if err != nil {
		return "", err
	}
	txn := e.db.Begin()
	txn.PutMeta(catalog.DatabaseMetaKey(d.Name), b)
	if err := txn.Commit(); err != nil {
		return "", err
	}
	e.cat.PublishDatabaseName(d)
	e.catVersion.Add(1)
	return "CREATE DATABASE", w.Notice("NOTICE", sqlerr.SuccessfulCompletion,
		"Sluice has one database, which every database name connects to: \""+d.Name+"\" now lists in pg_database")
}

// loadDatabaseNames publishes the database names of the meta records.
func (e *Engine) loadDatabaseNames(meta map[string][]byte) error {
	for k, v := range meta {
		if !catalog.IsDatabaseMetaKey(k) {
			continue
		}
		d, err := catalog.DecodeDatabaseName(k, v)
		if err != nil {
			return err
		}
		e.cat.PublishDatabaseName(d)
	}
	return nil
}
