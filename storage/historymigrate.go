package storage

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/coldata"
)

// moveRowsFromPebble moves the rows a store written before history logs
// kept in Pebble for an append-only table into a new history log, and
// commits the log's record with the range deletion of the rows in one
// batch: a crash before it leaves the rows in Pebble (and the file to
// Open's cleanup), after it in the log. The values are copied as they are,
// as frame payloads. Called by OpenTable, which holds db.commitMu.
func (t *Table) moveRowsFromPebble() error {
	id := t.info.ID
	lo, hi := tableSpan(id)
	it, err := t.db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapPebble(err)
	}
	defer it.Close()
	if !it.First() {
		return wrapPebble(it.Error())
	}
	if _, ok, err := t.db.historyRecordOf(id); err != nil || ok {
		if ok {
			return errCorrupt("table %d: rows both in Pebble and in a history log", id)
		}
		return err
	}
	log, err := t.db.createHistoryLog(id)
	if err != nil {
		return err
	}
	defer func() {
		if t.hist != log {
			_ = log.w.Close() // failed: Open removes the file no record names
		}
	}()
	r := log.committed
	var buf []byte
	flush := func() error {
		if _, err := log.w.WriteAt(buf, r.bytes); err != nil {
			return wrapPebble(err)
		}
		r.bytes += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	scratch := coldata.NewChunk(t.info.Types, runRows)
	for ok := true; ok; ok = it.Next() {
		k := it.Key()
		if len(k) != rowKeyLen || binary.BigEndian.Uint64(k[5:]) != r.rows+1 {
			return errCorrupt("table %d: append-only row key %x out of sequence", id, k)
		}
		v, n, err := decodeRowValue(it, scratch, id, r.rows+1)
		if err != nil {
			return err
		}
		if buf, err = appendFrame(buf, func(b []byte) ([]byte, error) { return append(b, v...), nil }); err != nil {
			return err
		}
		r.rows += uint64(n)
		if len(buf) >= 4<<20 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return wrapPebble(err)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := log.w.SyncData(); err != nil {
		return wrapPebble(err)
	}
	b := t.db.pe.NewBatch()
	defer b.Close()
	if err := log.recordIn(b, r); err != nil {
		return err
	}
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return wrapPebble(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return wrapPebble(err)
	}
	log.committed = r
	t.hist = log
	return nil
}
