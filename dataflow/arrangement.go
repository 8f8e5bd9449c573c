package dataflow

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Arrangement is the readable, versioned result of a materialized view. One
// writer goroutine applies each epoch's changes; any number of readers read
// snapshots as of an epoch without blocking the writer.
//
// Rows live at positions of append-only columns. A position is one version
// of a row: it is visible to a reader at epoch e when born <= e < died, and
// stands for mult copies of the row. Changing a row (or, in a multiset, its
// count) kills its position and appends a new one, so nothing a reader can
// see is ever overwritten; the only in-place write is setting died, done
// atomically. A snapshot copies the slice headers, so later appends (even
// ones that reallocate) do not disturb it. Compaction copies the versions
// still visible into fresh arrays, leaving the old ones to old snapshots.
type Arrangement struct {
	typs []*types.T
	key  []int // nil: rows are a multiset keyed by the whole row

	// mu guards cur, and the index and published versions of every
	// generation.
	mu  sync.RWMutex
	cur *arrangementGen

	// The rest is the writer's.
	work versions // cur's arrays as the writer appends to them
	// moved lists the index entries whose writer's position the running
	// Apply changed; they are published with its versions so that no reader
	// finds a position beyond the versions it can see.
	moved     []*keyEntry
	lastEpoch uint64
	applied   bool
	failed    error
	rows      int64 // visible rows at the last epoch, counting multiplicity
	live      int   // live positions
	// kills counts the positions killed per epoch since the last
	// compaction, killed their sum.
	kills       []epochCount
	killed      int64
	keyBuf, buf []byte // scratch
	// indexed is false while an unkeyed arrangement has only ever had
	// insertions: a view over append-only streams then stores its rows
	// without an identity index (keys, map, ordered tree), which its reads
	// (scans) do not use. The first retraction builds the index.
	indexed bool
}

// versions are the columns of an arrangement's positions and their version
// data. Within a generation, a position's fields never change once appended,
// except died.
type versions struct {
	cols []coldata.Vec
	born []uint64
	// died is read and written with sync/atomic: the writer sets it while
	// readers check it.
	died []uint64
	// prev is the position of the key's previous version, or -1.
	prev []int
	mult []int64
	// lens records the visible row count from each epoch on that changed it.
	lens []epochCount
}

type epochCount struct {
	epoch uint64
	n     int64
}

// arrangementGen is one generation of arrays, from one compaction to the next.
type arrangementGen struct {
	// index maps each key to its entry; a deleted key keeps its entry until
	// compaction. ordered holds the same entries sorted by key, for range
	// scans: a key is the types.AppendKey encoding of the key columns (of
	// the whole row in a multiset), whose byte order is the columns' order.
	index   map[string]*keyEntry
	ordered orderTree[*keyEntry]
	pub     versions // as of the last published Apply
	// horizon is the epoch of the compaction that made the generation:
	// versions dead by then were dropped, so it serves epochs >= horizon.
	horizon uint64
}

// keyEntry locates the latest version of a key.
type keyEntry struct {
	// pos is the latest published version's position, -1 before the first
	// is published; guarded by Arrangement.mu.
	pos int
	// writerPos is the latest version the writer has appended; only the
	// writer touches it.
	writerPos int
}

const liveForever = math.MaxUint64

// NewArrangement returns an empty arrangement of rows of types typs. key lists
// the unique key columns (e.g. the GROUP BY key), or is nil when rows have no
// unique key: then rows are a multiset keyed by the whole row.
func NewArrangement(typs []*types.T, key []int) *Arrangement {
	a := &Arrangement{typs: typs, key: key, indexed: key != nil}
	a.work.cols = make([]coldata.Vec, len(typs))
	for i, t := range typs {
		a.work.cols[i] = *coldata.NewVec(t, 0)
	}
	a.cur = &arrangementGen{index: map[string]*keyEntry{}}
	a.cur.pub = a.work.clone()
	return a
}

func (a *Arrangement) Types() []*types.T { return a.typs }
func (a *Arrangement) Key() []int        { return a.key }

// clone copies the slice headers; the arrays stay shared.
func (v versions) clone() versions {
	v.cols = slices.Clone(v.cols)
	return v
}

// Apply installs the consolidated changes c of epoch e, which must be later
// than every epoch applied before. Within c, retractions are applied before
// insertions (a keyed view changes a row as -old,+new). Changing what is not
// there (retracting an absent row, inserting a key twice) is a [BUG] error,
// after which Apply keeps failing and readers keep the epochs published
// before.
func (a *Arrangement) Apply(e uint64, c *coldata.Chunk) error {
	if a.failed != nil {
		return a.failed
	}
	if a.applied && e <= a.lastEpoch {
		a.failed = sqlerr.Bug("arrangement: epoch %d applied after epoch %d", e, a.lastEpoch)
		return a.failed
	}
	a.applied, a.lastEpoch = true, e
	a.grow(c.Len)
	rows, kills := a.rows, 0
	for _, retract := range []bool{true, false} {
		for i := 0; i < c.Len; i++ {
			d := c.Diffs[i]
			if (d < 0) != retract {
				continue
			}
			if !a.indexed {
				if d > 0 {
					a.appendVersion(e, c, i, d, -1)
					rows += d
					continue
				}
				kills += a.indexRows(e)
			}
			killed, err := a.change(e, c, i, d)
			if err != nil {
				a.failed = err
				return err
			}
			rows += d
			kills += killed
		}
	}
	if kills > 0 {
		a.kills = append(a.kills, epochCount{e, int64(kills)})
		a.killed += int64(kills)
	}
	if rows != a.rows {
		a.rows = rows
		a.work.lens = append(a.work.lens, epochCount{e, rows})
	}
	a.publish()
	return nil
}

// change applies row i of c with diff d at epoch e and returns how many
// positions it killed.
func (a *Arrangement) change(e uint64, c *coldata.Chunk, i int, d int64) (int, error) {
	if a.key == nil {
		a.keyBuf = RowIdentity(a.keyBuf[:0], c, nil, i)
	} else {
		a.keyBuf = RowKey(a.keyBuf[:0], c, a.key, i)
	}
	entry := a.cur.index[string(a.keyBuf)]
	pos := -1
	if entry != nil {
		pos = entry.writerPos
	}
	live := pos >= 0 && a.work.died[pos] == liveForever
	n := d
	if live {
		n += a.work.mult[pos]
	}
	switch {
	case d < 0 && (!live || !a.sameRow(pos, c, i)):
		return 0, sqlerr.Bug("arrangement: retracting a row that is not there")
	case n < 0:
		return 0, sqlerr.Bug("arrangement: retracting more copies of a row than there are")
	case a.key != nil && n > 1:
		return 0, sqlerr.New(sqlerr.UniqueViolation, "two rows have the same key value %s", a.keyText(c, i))
	}
	killed := 0
	if live {
		atomic.StoreUint64(&a.work.died[pos], e)
		a.live--
		killed = 1
	}
	if n > 0 {
		if entry == nil {
			// Readers ignore the entry until its first version is published.
			entry = &keyEntry{pos: -1}
			a.mu.Lock()
			a.cur.index[string(a.keyBuf)] = entry
			a.cur.ordered.add(a.keyBuf, 1).val = entry
			a.mu.Unlock()
		}
		entry.writerPos = a.appendVersion(e, c, i, n, pos)
		a.moved = append(a.moved, entry)
	}
	return killed, nil
}

// sameRow reports whether position pos holds row i of c; a keyed retraction
// must name the row that is there, not just its key.
func (a *Arrangement) sameRow(pos int, c *coldata.Chunk, i int) bool {
	if a.key == nil {
		return true
	}
	a.buf = RowIdentity(a.buf[:0], c, nil, i)
	n := len(a.buf)
	for j := range a.work.cols {
		a.buf = a.work.cols[j].AppendIdentity(a.buf, pos)
	}
	return string(a.buf[:n]) == string(a.buf[n:])
}

// grow makes room for n more versions, doubling: an arrangement fed by a
// stream grows by many appends.
func (a *Arrangement) grow(n int) {
	for j := range a.work.cols {
		a.work.cols[j].Grow(n)
	}
	a.work.born = coldata.Reserve(a.work.born, n)
	a.work.died = coldata.Reserve(a.work.died, n)
	a.work.prev = coldata.Reserve(a.work.prev, n)
	a.work.mult = coldata.Reserve(a.work.mult, n)
}

// indexRows builds the identity index of an unkeyed arrangement that had
// only insertions so far (see indexed), at its first retraction, in epoch e.
// Equal rows inserted in different epochs sit at several positions; they
// become one version holding their sum. It returns how many positions it
// killed.
func (a *Arrangement) indexRows(e uint64) int {
	a.indexed = true
	// The arrangement's own columns, as a chunk to append versions from.
	self := &coldata.Chunk{Cols: make([]*coldata.Vec, len(a.work.cols))}
	for j := range a.work.cols {
		self.Cols[j] = &a.work.cols[j]
	}
	index := map[string]*keyEntry{}
	var items []*orderItem[*keyEntry]
	kills := 0
	for pos, n := 0, len(a.work.born); pos < n; pos++ {
		if a.work.died[pos] != liveForever {
			continue
		}
		a.buf = a.buf[:0]
		for j := range a.work.cols {
			a.buf = a.work.cols[j].AppendIdentity(a.buf, pos)
		}
		if entry := index[string(a.buf)]; entry != nil {
			old := entry.writerPos
			atomic.StoreUint64(&a.work.died[old], e)
			atomic.StoreUint64(&a.work.died[pos], e)
			a.live -= 2
			kills += 2
			entry.writerPos = a.appendVersion(e, self, pos, a.work.mult[old]+a.work.mult[pos], old)
			a.moved = append(a.moved, entry)
			continue
		}
		entry := &keyEntry{pos: pos, writerPos: pos}
		index[string(a.buf)] = entry
		items = append(items, &orderItem[*keyEntry]{key: string(a.buf), count: 1, val: entry})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	a.mu.Lock()
	a.cur.index = index
	a.cur.ordered = buildOrderTree(items)
	a.mu.Unlock()
	return kills
}

func (a *Arrangement) appendVersion(e uint64, c *coldata.Chunk, i int, mult int64, prev int) int {
	for j := range a.work.cols {
		a.work.cols[j].AppendFrom(c.Cols[j], i)
	}
	a.work.born = append(a.work.born, e)
	a.work.died = append(a.work.died, liveForever)
	a.work.prev = append(a.work.prev, prev)
	a.work.mult = append(a.work.mult, mult)
	a.live++
	return len(a.work.born) - 1
}

// publish makes the writer's appends and index entries visible to readers.
func (a *Arrangement) publish() {
	a.mu.Lock()
	cols := a.cur.pub.cols
	copy(cols, a.work.cols)
	a.cur.pub = a.work
	a.cur.pub.cols = cols
	for _, entry := range a.moved {
		entry.pos = entry.writerPos
	}
	a.mu.Unlock()
	clear(a.moved)
	a.moved = a.moved[:0]
}

// Compact drops the versions that no reader at an epoch >= visible can see;
// call it after publishing epoch visible. It works only once the dead
// versions it can drop outnumber the live ones (and 1024), so calling it
// every epoch costs O(1) amortized per change.
func (a *Arrangement) Compact(visible uint64) {
	if a.failed != nil {
		// The arrays hold the failed Apply's unpublished changes.
		return
	}
	dead := a.killed
	for i := len(a.kills) - 1; i >= 0 && a.kills[i].epoch > visible; i-- {
		dead -= a.kills[i].n
	}
	if dead <= int64(max(a.live, 1024)) {
		return
	}
	old := a.work
	next := versions{cols: make([]coldata.Vec, len(old.cols))}
	for j := range old.cols {
		next.cols[j] = *coldata.NewVec(old.cols[j].Typ, len(old.born)-int(dead))
	}
	// renumber maps an old position to its new one, or -1 if dropped. A
	// key's versions die in order, so a kept version's prev is kept or is
	// the end of its chain.
	renumber := make([]int, len(old.born))
	for pos := range old.born {
		died := old.died[pos]
		if died <= visible {
			renumber[pos] = -1
			continue
		}
		renumber[pos] = len(next.born)
		for j := range next.cols {
			next.cols[j].AppendFrom(&old.cols[j], pos)
		}
		prev := old.prev[pos]
		if prev >= 0 {
			prev = renumber[prev]
		}
		next.born = append(next.born, old.born[pos])
		next.died = append(next.died, died)
		next.prev = append(next.prev, prev)
		next.mult = append(next.mult, old.mult[pos])
	}
	// Keep the last count at or before visible: it holds until the next one.
	first := sort.Search(len(old.lens), func(i int) bool { return old.lens[i].epoch > visible })
	next.lens = slices.Clone(old.lens[max(first-1, 0):])
	// Fresh entries: old snapshots keep reading the old ones.
	gen := &arrangementGen{index: make(map[string]*keyEntry, a.live), pub: next.clone(), horizon: visible}
	items := make([]*orderItem[*keyEntry], 0, a.live)
	keys := a.cur.ordered.seekKey(nil)
	for item := keys.next(); item != nil; item = keys.next() {
		if p := renumber[item.val.pos]; p >= 0 {
			entry := &keyEntry{pos: p, writerPos: p}
			gen.index[item.key] = entry
			items = append(items, &orderItem[*keyEntry]{key: item.key, count: 1, val: entry})
		}
	}
	gen.ordered = buildOrderTree(items)
	a.kills = slices.DeleteFunc(a.kills, func(k epochCount) bool { return k.epoch <= visible })
	a.killed -= dead
	a.work = next
	a.mu.Lock()
	a.cur = gen
	a.mu.Unlock()
}

// ArrangementSnapshot reads an arrangement as of one epoch. It stays valid
// and consistent whatever the writer does later.
type ArrangementSnapshot struct {
	a     *Arrangement
	gen   *arrangementGen
	epoch uint64
	v     versions
}

// Snapshot returns a reader of the arrangement as of epoch e. e must be
// published: no Apply of an epoch <= e may follow. Snapshot returns nil
// when versions e needs have been compacted away (a Compact with visible >
// e ran), which happens to a caller that read the latest published epoch
// only if the writer published and compacted a later one before the call:
// retry with the latest published epoch.
func (a *Arrangement) Snapshot(e uint64) *ArrangementSnapshot {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if e < a.cur.horizon {
		return nil
	}
	return &ArrangementSnapshot{a: a, gen: a.cur, epoch: e, v: a.cur.pub.clone()}
}

// Epoch returns the epoch the snapshot reads.
func (s *ArrangementSnapshot) Epoch() uint64 { return s.epoch }

func (s *ArrangementSnapshot) visible(pos int) bool {
	return s.v.born[pos] <= s.epoch && s.epoch < atomic.LoadUint64(&s.v.died[pos])
}

// Len returns the number of visible rows, counting multiplicity.
func (s *ArrangementSnapshot) Len() int {
	i := sort.Search(len(s.v.lens), func(i int) bool { return s.v.lens[i].epoch > s.epoch })
	if i == 0 {
		return 0
	}
	return int(s.v.lens[i-1].n)
}

// Scan returns an iterator over the visible rows: each call returns a chunk
// of up to coldata.DefaultChunkSize rows (Diffs nil), a row repeated per
// copy, and nil at the end.
func (s *ArrangementSnapshot) Scan() func() *coldata.Chunk {
	src := &coldata.Chunk{Cols: make([]*coldata.Vec, len(s.v.cols))}
	for j := range s.v.cols {
		src.Cols[j] = &s.v.cols[j]
	}
	pos, copies := -1, int64(0) // copies of row pos still to return
	sel := make([]int, 0, coldata.DefaultChunkSize)
	return func() *coldata.Chunk {
		sel = sel[:0]
		for len(sel) < coldata.DefaultChunkSize {
			if copies == 0 {
				pos++
				for pos < len(s.v.born) && !s.visible(pos) {
					pos++
				}
				if pos >= len(s.v.born) {
					break
				}
				copies = s.v.mult[pos]
			}
			n := min(copies, int64(coldata.DefaultChunkSize-len(sel)))
			for range n {
				sel = append(sel, pos)
			}
			copies -= n
		}
		if len(sel) == 0 {
			return nil
		}
		return src.Gather(sel)
	}
}

// Lookup returns the row with the given key values (in key-column order,
// typed as the columns) as of the snapshot's epoch. Only for keyed
// arrangements. The row must not be modified.
func (s *ArrangementSnapshot) Lookup(key []types.Datum) (row []types.Datum, ok bool) {
	if s.a.key == nil {
		panic("Lookup on an arrangement without a key")
	}
	var buf []byte
	for i, col := range s.a.key {
		buf = types.AppendKey(buf, s.a.typs[col], key[i])
	}
	s.a.mu.RLock()
	pos, ok := -1, false
	if entry := s.gen.index[string(buf)]; entry != nil {
		pos, ok = s.version(entry)
	}
	s.a.mu.RUnlock()
	if !ok {
		return nil, false
	}
	row = make([]types.Datum, len(s.v.cols))
	for j := range s.v.cols {
		row[j] = s.v.cols[j].Get(pos)
	}
	return row, true
}

// version returns the position of entry's key's version visible at the
// snapshot's epoch, if any; the caller holds a.mu for reading.
func (s *ArrangementSnapshot) version(entry *keyEntry) (int, bool) {
	pos := entry.pos
	// Skip the versions appended after the snapshot was taken.
	for pos >= len(s.v.born) {
		pos = s.gen.pub.prev[pos]
	}
	for pos >= 0 {
		if s.v.born[pos] <= s.epoch {
			// Earlier versions died before this one was born.
			return pos, s.epoch < atomic.LoadUint64(&s.v.died[pos])
		}
		pos = s.v.prev[pos]
	}
	return -1, false
}

// KeyBound is one end of a KeyRange.
type KeyBound struct {
	Value     types.Datum // typed as the key column; never NULL
	Inclusive bool
}

// KeyRange selects the keys of a keyed arrangement whose first len(Prefix)
// columns equal Prefix (no element NULL) and, when Lower or Upper is set,
// whose next key column lies within the bounds, compared as types.Compare
// does. A NULL in that column is in no range; with neither bound, every
// value of it, NULL included, matches.
type KeyRange struct {
	Prefix       []types.Datum
	Lower, Upper *KeyBound
}

// span returns the encoded keys of r as [start, end), end nil when the span
// is unbounded above, and false when it is empty.
func (r KeyRange) span(typs []*types.T, key []int) (start, end []byte, ok bool) {
	var prefix []byte
	for i, v := range r.Prefix {
		prefix = types.AppendKey(prefix, typs[key[i]], v)
	}
	t := typs[key[len(r.Prefix)]]
	bound := func(b *KeyBound) []byte {
		return types.AppendKey(slices.Clip(prefix), t, b.Value)
	}
	// Encodings are self-delimiting, so the keys whose column equals v are
	// exactly those starting with bound(v), and they sort together.
	switch {
	case r.Lower != nil && r.Lower.Inclusive:
		start = bound(r.Lower)
	case r.Lower != nil:
		if start = prefixEnd(bound(r.Lower)); start == nil {
			return nil, nil, false
		}
	case r.Upper != nil:
		// Past the NULLs: the marker byte starting a non-NULL value's
		// encoding is one above the NULL marker.
		start = types.AppendKey(slices.Clip(prefix), t, nil)
		start[len(start)-1]++
	default:
		start = prefix
	}
	switch {
	case r.Upper != nil && r.Upper.Inclusive:
		end = prefixEnd(bound(r.Upper))
	case r.Upper != nil:
		end = bound(r.Upper)
	default:
		end = prefixEnd(prefix)
	}
	return start, end, end == nil || string(start) < string(end)
}

// prefixEnd returns the least byte string above every string starting with
// p, or nil when there is none (p is empty or all 0xFF).
func prefixEnd(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xFF {
			end := slices.Clone(p[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

// ScanRange is Scan restricted to the rows whose keys are in r, returned in
// key order. Only for keyed arrangements.
func (s *ArrangementSnapshot) ScanRange(r KeyRange) func() *coldata.Chunk {
	if s.a.key == nil || len(r.Prefix) >= len(s.a.key) {
		panic("ScanRange on an arrangement without a key or past its key")
	}
	from, end, ok := r.span(s.a.typs, s.a.key)
	src := &coldata.Chunk{Cols: make([]*coldata.Vec, len(s.v.cols))}
	for j := range s.v.cols {
		src.Cols[j] = &s.v.cols[j]
	}
	sel := make([]int, 0, coldata.DefaultChunkSize)
	return func() *coldata.Chunk {
		sel = sel[:0]
		for ok && len(sel) < coldata.DefaultChunkSize {
			from, ok = s.scanKeys(from, end, &sel)
		}
		if len(sel) == 0 {
			return nil
		}
		return src.Gather(sel)
	}
}

// scanKeys appends to sel the visible positions of up to a chunk's worth of
// keys from from (inclusive) to end (exclusive; nil: unbounded), holding
// a.mu meanwhile; the writer waits for it, so it stops after a chunk of keys
// visited, visible or not. It returns where to go on from, and false at the
// end. Going on seeks the key again, as the writer may have changed the tree
// in between.
func (s *ArrangementSnapshot) scanKeys(from, end []byte, sel *[]int) ([]byte, bool) {
	s.a.mu.RLock()
	defer s.a.mu.RUnlock()
	keys := s.gen.ordered.seekKey(from)
	var last string
	for visited := 0; visited < coldata.DefaultChunkSize && len(*sel) < coldata.DefaultChunkSize; visited++ {
		item := keys.next()
		if item == nil || (end != nil && item.key >= string(end)) {
			return nil, false
		}
		if pos, ok := s.version(item.val); ok {
			*sel = append(*sel, pos)
		}
		last = item.key
	}
	// The least key above the last one visited.
	return append([]byte(last), 0), true
}

// keyText renders row i's key values as (value, …) for an error.
func (a *Arrangement) keyText(c *coldata.Chunk, i int) string {
	vals := make([]string, len(a.key))
	for j, k := range a.key {
		if c.Cols[k].IsNull(i) {
			vals[j] = "NULL"
		} else {
			vals[j] = string(types.AppendText(nil, a.typs[k], c.Cols[k].Get(i), types.DefaultConfig()))
		}
	}
	return "(" + strings.Join(vals, ", ") + ")"
}
