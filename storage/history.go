package storage

import (
	"errors"
	"io"
	"math"
	"os"
	"sort"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A stream grows without end, so its history cannot stay in memory: an
// append-only table keeps only its newest segments there. Older sealed
// segments are evicted: their rows are in the history log already (every
// commit is durable before it is applied), so eviction just forgets the
// vectors, and a scan reads an evicted segment back from the log when it
// reaches it, one segment at a time. Rows of an append-only table never
// change, so the copy read back is the one evicted.

// defaultResidentSegments is how many sealed segments of an append-only table
// stay in memory besides the growing one (see WithResidentSegments).
const defaultResidentSegments = 2

// WithResidentSegments sets how many sealed segments (up to 64Ki rows) of each
// append-only table stay in memory besides the growing one; older ones
// are read back from the history log by scans. Negative means all stay.
func WithResidentSegments(n int) Option { return func(o *options) { o.residentSegs = n } }

// evictHistory evicts the sealed segments of an append-only table but the
// newest db.residentSegs. A segment is replaced, not changed, so scans that
// share the old one keep reading it. Caller holds t.mu for writing (or owns
// t, as load does).
func (t *Table) evictHistory() {
	keep := t.db.residentSegs
	if !t.info.AppendOnly || keep < 0 {
		return
	}
	// Every segment but the last is sealed: only the last grows.
	for ; t.evicted < len(t.segs)-1-keep; t.evicted++ {
		s := t.segs[t.evicted]
		t.segs[t.evicted] = &segment{start: s.start, rows: coldata.Chunk{Len: s.rows.Len}, firstID: s.firstID, evicted: true, hist: s.hist}
	}
}

// markFrames gives the segments from index from on, just appended to an
// append-only table, the mark of the frame holding their first row, of
// marks (a commit's frames, ascending). Caller holds t.mu for writing (or
// owns t).
func (t *Table) markFrames(from int, marks []frameMark) {
	if !t.info.AppendOnly {
		return
	}
	for _, s := range t.segs[from:] {
		i := sort.Search(len(marks), func(j int) bool { return marks[j].pos > s.start }) - 1
		s.hist = marks[i]
	}
}

// readSegment reads the rows of evicted segment s of t back from the
// history log, decoded as columns of types ts. The frame at s.hist holds
// s's first row, maybe after rows of the segment before.
func (t *Table) readSegment(ts []*types.T, s *segment) (*coldata.Chunk, error) {
	id := t.info.ID
	f, err := t.db.fs.Open(t.hist.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errDropped(t) // only DROP removes a log
	}
	if err != nil {
		return nil, wrapPebble(err)
	}
	defer f.Close()
	// No end: the committed length moves with commits, and the rows of s
	// are before it anyway.
	fr := newFrameReader(t.db.readBufs, id, f, s.hist.off, math.MaxInt64)
	defer fr.close()
	out := coldata.NewChunk(ts, s.rows.Len)
	var scratch *coldata.Chunk // for the frames that straddle s's ends
	pos := s.hist.pos          // of the next frame's first row
	for pos < s.end() {
		payload, off, err := fr.next() // never io.EOF: no end is set
		if err != nil {
			return nil, err
		}
		n, err := valueRows(payload)
		if err != nil {
			return nil, errCorrupt("table %d history frame at %d: %v", id, off, err)
		}
		lo, hi := max(pos, s.start), min(pos+n, s.end())
		if lo == pos && hi == pos+n {
			// The whole frame is s's: decoded straight into out.
			if _, err := decodeInto(payload, out.Cols); err != nil {
				return nil, errCorrupt("table %d history frame at %d: %v", id, off, err)
			}
			out.Len += n
		} else if lo < hi {
			if scratch == nil {
				scratch = coldata.NewChunk(ts, runRows)
			}
			scratch.Reset()
			if _, err := decodeInto(payload, scratch.Cols); err != nil {
				return nil, errCorrupt("table %d history frame at %d: %v", id, off, err)
			}
			scratch.Len = n
			appendRowsTo(out, scratch, lo-pos, hi-lo)
		}
		pos += n
	}
	return out, nil
}

// loadHistory reads the committed rows of an append-only table from its
// history log, evicting as it goes; an older store's rows in Pebble are
// moved into the log first. The rows load would evict at once (all but
// the last segments; load fills whole segments) are only counted, not
// decoded: a long stream reopens at the cost of reading its log. Called
// before the table is shared.
func (t *Table) loadHistory() error {
	if err := t.moveRowsFromPebble(); err != nil {
		return err
	}
	r, ok, err := t.db.historyRecordOf(t.info.ID)
	if err != nil || !ok {
		return err
	}
	if t.hist == nil {
		if t.hist, err = t.db.openHistoryLog(t.info.ID, r); err != nil {
			return err
		}
	}
	evictRows := 0
	if keep := t.db.residentSegs; keep >= 0 && r.rows <= math.MaxInt {
		segs := (int(r.rows) + segRows - 1) / segRows
		evictRows = max(0, segs-1-keep) * segRows
	}
	fr := newFrameReader(t.db.readBufs, t.info.ID, t.hist.w, 0, r.bytes)
	defer fr.close()
	scratch := coldata.NewChunk(t.info.Types, runRows)
	for {
		payload, off, err := fr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		mark := frameMark{off: off, pos: t.n}
		if t.n < evictRows {
			n, err := valueRows(payload)
			if err != nil {
				return errCorrupt("table %d history frame at %d: %v", t.info.ID, off, err)
			}
			if t.n+n <= evictRows {
				t.appendEvicted(n, mark)
				continue
			}
		}
		scratch.Reset()
		n, err := decodeInto(payload, scratch.Cols)
		if err != nil {
			return errCorrupt("table %d history frame at %d: %v", t.info.ID, off, err)
		}
		scratch.Len = n
		rows := scratch
		if skip := evictRows - t.n; skip > 0 { // the frame straddles the first row kept
			t.appendEvicted(skip, mark)
			rows = scratch.Slice(skip, n)
		}
		from := len(t.segs)
		t.appendRows(rows, t.nextRowID, nil)
		t.nextRowID += uint64(rows.Len)
		t.markFrames(from, []frameMark{mark})
		t.evictHistory()
	}
	if uint64(t.n) != r.rows {
		return errCorrupt("table %d: history log holds %d rows, %d committed", t.info.ID, t.n, r.rows)
	}
	t.live = t.n
	return nil
}

// appendEvicted appends n rows of a frame at mark as load would append and
// then evict them, without their values: to evicted segments of segRows
// rows. Called by load only, while every segment is evicted.
func (t *Table) appendEvicted(n int, mark frameMark) {
	for n > 0 {
		k := len(t.segs)
		if k == 0 || t.segs[k-1].rows.Len == segRows {
			t.segs = append(t.segs, &segment{start: t.n, firstID: t.nextRowID, evicted: true, hist: mark})
			t.evicted++
			k++
		}
		s := t.segs[k-1]
		m := min(n, segRows-s.rows.Len)
		s.rows.Len += m
		t.n += m
		t.nextRowID += uint64(m)
		n -= m
	}
	t.growDead()
}
