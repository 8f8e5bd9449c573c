package engine

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// tableAccess is exec.TableAccess over one storage table within a Txn.
type tableAccess struct {
	txn *storage.Txn
	t   *storage.Table
}

func (a *tableAccess) Scan() (exec.TableIter, error) { return tableIter{a.txn.Scan(a.t)}, nil }

func (a *tableAccess) Lookup(key []types.Datum) ([]types.Datum, int, bool, error) {
	row, pos, found := a.txn.Lookup(a.t, key)
	return row, pos, found, nil
}

func (a *tableAccess) Insert(rows *coldata.Chunk) error { return a.txn.Insert(a.t, rows) }

func (a *tableAccess) Delete(positions []int) error { return a.txn.Delete(a.t, positions) }

func (a *tableAccess) Update(positions []int, rows *coldata.Chunk) error {
	return a.txn.Update(a.t, positions, rows)
}

type tableIter struct{ s *storage.TableScan }

func (it tableIter) Next() (*coldata.Chunk, []int, error) {
	ch, pos, ok := it.s.Next()
	if !ok {
		return nil, nil, it.s.Err()
	}
	return ch, pos, nil
}
