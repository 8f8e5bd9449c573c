package engine

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// A kafka sink's durable state is what it has committed to Kafka, as meta
// records (docs/format/storage.md, docs/sinks.md):
//
//	sinkstate/<id>/seq            u64 BE: the last committed transaction's sequence number
//	sinkstate/<id>/pending        the transaction being committed: seq u64 BE | marker offset u64 BE (kafka) | changes
//	sinkstate/<id>/row/<row value> count uvarint: an emitted row and its multiplicity
//
// changes = nrows uvarint, then per row: diff varint | len uvarint | row value.
// The emitted rows are the consolidated multiset of every committed
// transaction's changes: a read_committed consumer folding the topic holds
// exactly them.

func sinkStatePrefix(id uint32) string        { return fmt.Sprintf("sinkstate/%d/", id) }
func sinkSeqKey(id uint32) string             { return sinkStatePrefix(id) + "seq" }
func sinkPendingKey(id uint32) string         { return sinkStatePrefix(id) + "pending" }
func sinkRowPrefix(id uint32) string          { return sinkStatePrefix(id) + "row/" }
func sinkRowKey(id uint32, row []byte) string { return sinkRowPrefix(id) + string(row) }

// sinkState is a sink's durable state and its copy in memory. It is used by
// the sink's goroutine alone.
type sinkState struct {
	db    *storage.DB
	id    uint32
	types []*types.T
	seq   uint64
	// rows maps each emitted row's value (storage.AppendRowValue, which
	// tells apart what row identity tells apart) to its multiplicity.
	rows map[string]int64
	// pending is the transaction whose outcome was not known when the
	// state was loaded (nil: none).
	pending *sinkPending
}

// sinkPending is a transaction written out, not yet known committed: its
// sequence number, where its progress marker is (kafka sinks) and its
// changes, with their rows' values as writePending encoded them (the keys
// of the emitted rows settle updates).
type sinkPending struct {
	seq          uint64
	markerOffset int64
	changes      *coldata.Chunk
	rows         []string
}

func loadSinkState(db *storage.DB, id uint32, typs []*types.T) (*sinkState, error) {
	meta, err := db.MetaWithPrefix(sinkStatePrefix(id))
	if err != nil {
		return nil, err
	}
	st := &sinkState{db: db, id: id, types: typs, rows: map[string]int64{}}
	for k, v := range meta {
		switch {
		case k == sinkSeqKey(id):
			if len(v) != 8 {
				return nil, errCorruptSinkState(id, "sequence number")
			}
			st.seq = binary.BigEndian.Uint64(v)
		case k == sinkPendingKey(id):
			if st.pending, err = st.decodePending(v); err != nil {
				return nil, err
			}
		case strings.HasPrefix(k, sinkRowPrefix(id)):
			n, w := binary.Uvarint(v)
			if w <= 0 || w != len(v) || n == 0 {
				return nil, errCorruptSinkState(id, "row count")
			}
			st.rows[k[len(sinkRowPrefix(id)):]] = int64(n)
		}
	}
	return st, nil
}

func errCorruptSinkState(id uint32, what string) error {
	return sqlerr.New(sqlerr.DataCorrupted, "corrupt state of sink %d: bad %s", id, what)
}

// emitted returns the emitted rows with their multiplicities negated: added
// to the view's rows and consolidated, what the sink still has to write.
func (st *sinkState) emitted() (*coldata.Chunk, error) {
	out := dataflow.NewChanges(st.types, len(st.rows))
	for row, n := range st.rows {
		if err := storage.DecodeRowValue([]byte(row), out.Cols); err != nil {
			return nil, err
		}
		out.Len++
		out.Diffs = append(out.Diffs, -n)
	}
	return out, nil
}

// writePending durably records transaction seq (its progress marker at
// markerOffset), holding changes, before it is committed.
func (st *sinkState) writePending(seq uint64, markerOffset int64, changes *coldata.Chunk) error {
	v := binary.BigEndian.AppendUint64(nil, seq)
	v = binary.BigEndian.AppendUint64(v, uint64(markerOffset))
	v = binary.AppendUvarint(v, uint64(changes.Len))
	rows := make([]string, changes.Len)
	var row []byte
	for i := range rows {
		var err error
		if row, err = storage.AppendRowValue(row[:0], changes.Cols, i); err != nil {
			return err
		}
		v = binary.AppendVarint(v, changes.Diffs[i])
		v = binary.AppendUvarint(v, uint64(len(row)))
		v = append(v, row...)
		rows[i] = string(row)
	}
	txn := st.db.Begin()
	txn.PutMeta(sinkPendingKey(st.id), v)
	if err := txn.Commit(); err != nil {
		return err
	}
	st.pending = &sinkPending{seq: seq, markerOffset: markerOffset, changes: changes, rows: rows}
	return nil
}

func (st *sinkState) decodePending(v []byte) (*sinkPending, error) {
	bad := errCorruptSinkState(st.id, "pending transaction")
	if len(v) < 16 {
		return nil, bad
	}
	p := &sinkPending{seq: binary.BigEndian.Uint64(v), markerOffset: int64(binary.BigEndian.Uint64(v[8:]))}
	v = v[16:]
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)) {
		return nil, bad
	}
	v = v[w:]
	p.changes = dataflow.NewChanges(st.types, int(n))
	p.rows = make([]string, 0, n)
	for range n {
		d, w := binary.Varint(v)
		if w <= 0 {
			return nil, bad
		}
		v = v[w:]
		l, w := binary.Uvarint(v)
		if w <= 0 || l > uint64(len(v)-w) {
			return nil, bad
		}
		row := v[w : w+int(l)]
		v = v[w+int(l):]
		if err := storage.DecodeRowValue(row, p.changes.Cols); err != nil {
			return nil, err
		}
		p.changes.Len++
		p.changes.Diffs = append(p.changes.Diffs, d)
		p.rows = append(p.rows, string(row))
	}
	if len(v) != 0 {
		return nil, bad
	}
	return p, nil
}

// settle ends the pending transaction: committed, its changes join the
// emitted rows and its sequence number becomes the last committed, in one
// storage commit; otherwise it is forgotten.
func (st *sinkState) settle(committed bool) error {
	p := st.pending
	if p == nil {
		return sqlerr.Bug("sink %d: settle without a pending transaction", st.id)
	}
	txn := st.db.Begin()
	txn.DeleteMeta(sinkPendingKey(st.id))
	counts := map[string]int64{}
	if committed {
		for i, k := range p.rows {
			n, seen := counts[k]
			if !seen {
				n = st.rows[k]
			}
			counts[k] = n + p.changes.Diffs[i]
		}
		for k, n := range counts {
			switch {
			case n < 0:
				txn.Rollback()
				return sqlerr.Bug("sink %d: a row's emitted multiplicity would be %d", st.id, n)
			case n == 0:
				txn.DeleteMeta(sinkRowKey(st.id, []byte(k)))
			default:
				txn.PutMeta(sinkRowKey(st.id, []byte(k)), binary.AppendUvarint(nil, uint64(n)))
			}
		}
		txn.PutMeta(sinkSeqKey(st.id), binary.BigEndian.AppendUint64(nil, p.seq))
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	for k, n := range counts {
		if n == 0 {
			delete(st.rows, k)
		} else {
			st.rows[k] = n
		}
	}
	if committed {
		st.seq = p.seq
	}
	st.pending = nil
	return nil
}

// dropSinkState deletes a sink's state records in txn.
func dropSinkState(db *storage.DB, txn *storage.Txn, id uint32) error {
	meta, err := db.MetaWithPrefix(sinkStatePrefix(id))
	if err != nil {
		return err
	}
	for k := range meta {
		txn.DeleteMeta(k)
	}
	return nil
}
