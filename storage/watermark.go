package storage

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// NoWatermark is the watermark of a table that has none (tables, streams
// without WATERMARK FOR, and streams before their first event): nothing is
// complete yet.
const NoWatermark int64 = math.MinInt64

// watermarkKey is the meta record of table id's watermark: the committed
// event-time watermark in Unix microseconds (8 bytes, big endian). It is
// written in the same batch as the rows that advanced it, so that after a
// restart the watermark never runs ahead of (or behind) the stored rows.
func watermarkKey(id uint32) string { return "watermark/" + strconv.FormatUint(uint64(id), 10) }

// AdvanceWatermark raises t's event-time watermark (Unix microseconds) to w
// when the transaction commits; a w at or below the committed watermark is
// ignored (watermarks never go back). A commit that only advances a
// watermark still reaches the change observer, as a Change without chunks.
func (tx *Txn) AdvanceWatermark(t *Table, w int64) error {
	if tx.done {
		return errTxnDone()
	}
	if tx.watermarks == nil {
		tx.watermarks = map[*Table]int64{}
	}
	if old, ok := tx.watermarks[t]; !ok || w > old {
		tx.watermarks[t] = w
	}
	return nil
}

// Watermark returns t's committed watermark, or NoWatermark.
func (t *Table) Watermark() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.watermark
}

// advancedWatermarks returns the watermarks the txn raises, by table, in a
// deterministic order, leaving out the tables skip says the commit does not
// write: above the committed watermark, or above the one a commit before
// it in its group raises (raised). Caller holds db.commitMu (t.watermark
// changes only under it).
func (tx *Txn) advancedWatermarks(skip func(*Table) bool, raised map[*Table]int64) []tableWatermark {
	var out []tableWatermark
	for t, w := range tx.watermarks {
		cur := t.watermark
		if r, ok := raised[t]; ok {
			cur = r
		}
		if w > cur && !skip(t) {
			out = append(out, tableWatermark{t: t, w: w})
		}
	}
	slices.SortFunc(out, func(a, b tableWatermark) int { return cmp.Compare(a.t.info.ID, b.t.info.ID) })
	return out
}

type tableWatermark struct {
	t *Table
	w int64
}

// writeWatermarks adds the advanced watermarks to the commit's batch.
func writeWatermarks(b *pebble.Batch, ws []tableWatermark) error {
	for _, tw := range ws {
		v := binary.BigEndian.AppendUint64(nil, uint64(tw.w))
		if err := b.Set(metaKey(watermarkKey(tw.t.info.ID)), v, nil); err != nil {
			return wrapPebble(err)
		}
	}
	return nil
}

// loadWatermark reads t's stored watermark.
func (t *Table) loadWatermark() error {
	v, closer, err := t.db.pe.Get(metaKey(watermarkKey(t.info.ID)))
	if err == pebble.ErrNotFound {
		return nil
	}
	if err != nil {
		return wrapPebble(err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return errCorrupt("table %d: watermark record of %d bytes", t.info.ID, len(v))
	}
	t.watermark = int64(binary.BigEndian.Uint64(v))
	return nil
}

// deleteTableData adds to b the removal of everything stored for table id:
// its rows, its watermark and its history record (the log file goes after
// the commit, or at the next Open).
func deleteTableData(b *pebble.Batch, id uint32) error {
	lo, hi := tableSpan(id)
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return wrapPebble(err)
	}
	if err := b.Delete(metaKey(historyKey(id)), nil); err != nil {
		return wrapPebble(err)
	}
	return wrapPebble(b.Delete(metaKey(watermarkKey(id)), nil))
}
