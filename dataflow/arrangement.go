package dataflow

import (
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"unsafe"

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
// atomically. The columns are cut into pages made at their full length, so
// appending writes into a page by index and never moves a row; a snapshot
// copies the list of pages and the count of positions, and ignores what is
// written past them. Compaction copies the versions still visible into
// fresh pages, leaving the old ones to old snapshots.
//
// Readers take no lock. The keys are in a persistent B-tree (orderTree,
// frozen at each publish): a snapshot walks the root published with its
// versions, which the writer never changes; the writer copies the nodes
// it changes and publishes the new root. The key of each entry locates its
// latest version through an atomic position, and earlier versions through
// the versions' prev.
type Arrangement struct {
	typs []*types.T
	key  []int // nil: rows are a multiset keyed by the whole row

	// published is the current generation, its versions and its keys as of
	// the last publish, replaced at each publish and compaction.
	published atomic.Pointer[publishedGen]

	// The rest is the writer's.
	cur  *arrangementGen
	work versions // cur's pages as the writer appends to them
	// index maps each key to its entry (a deleted key keeps its entry until
	// compaction); keys holds the same entries in key order and is what
	// readers search, as published. A key is the types.AppendKey encoding
	// of the key columns (of the whole row in a multiset), whose byte order
	// is the columns' order.
	index map[string]*keyEntry
	keys  orderTree[*keyEntry]
	// indexing, when not nil, delivers the index of a bulk load (load),
	// made and filled on a goroutine of its own once the loaded epoch is
	// published: readers search the tree, and only the writer's next Apply
	// (or Compact) needs the map, which takeIndex waits for. At 4M keys,
	// making and filling it took 1.7 s of CPU of a restart before the view
	// could serve.
	indexing chan map[string]*keyEntry
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

// versionPageBits sets how many positions a page of versions holds: page p
// holds positions p<<versionPageBits on. Only the first page may be shorter:
// it starts at a few rows (or an epoch's worth) and is replaced by one
// twice as long (or long enough for an epoch) until it is full-sized, so
// that a view of a few rows (most aggregates) does not pay for a thousand.
const (
	versionPageBits  = 10
	versionPageRows  = 1 << versionPageBits
	firstVersionRows = 8
)

// versions are the positions of an arrangement: n of them, in pages. The
// writer appends a page to pages when all are full, so the pages a reader's
// copy lists never change but for the rows past its n. Within a generation,
// a position's fields never change once appended, except died.
type versions struct {
	pages []*versionPage
	n     int
	// lens records the visible row count from each epoch on that changed it.
	lens []epochCount
	// births records the first position appended at each epoch while the
	// arrangement is not indexed: the epoch its lean pages' rows are born.
	births []epochStart
	// arena is the writer's block that addInserts copies strings into,
	// and packText the bytes of packed pages.
	arena []byte
}

// stringArenaBytes is the size of the blocks of arena, at least; packText
// asks for blocks of packBlockPages pages' text (up to maxArenaBytes), so
// that the tail a page's text does not fit in wastes at most about
// 1/packBlockPages of a block.
const (
	stringArenaBytes = 64 << 10
	packBlockPages   = 16
	maxArenaBytes    = 4 << 20
)

// arenaRoom returns arena with room for need more bytes, in a new block
// of at least min bytes (up to maxArenaBytes, huge-page advised) when the
// current one has too little left.
func (v *versions) arenaRoom(need, minBytes int) []byte {
	if cap(v.arena)-len(v.arena) < need {
		v.arena = makeHuge[byte](max(need, min(minBytes, maxArenaBytes)))[:0]
	}
	return v.arena
}

type epochStart struct {
	epoch uint64
	pos   int
}

// versionPage holds consecutive positions. Its slices are made at their
// full length, NULL masks included, and written by index: their headers
// never change, so readers may copy them while the writer fills the page.
// A full page loaded in bulk may share its rows with the chunk it was
// given and its born, prev and mult with the other pages of the load
// (adoptPage), and a lean page its plain columns with the chunk of
// insertions it was cut from (sharedLeanPage): those are never written
// once a position is appended.
//
// A lean page, made while an unkeyed arrangement has had only insertions of
// one copy each (see Arrangement.indexed), has no version columns (born,
// died, prev and mult nil): each row is born at the epoch versions.births
// gives its position, lives forever, has no previous version and stands
// for one copy. A pass-through view over a stream keeps only lean pages:
// the four columns took 32 bytes a row (300 MB at 10 M rows) and a loop
// per row to fill. The writer makes a page full (fill) before it writes a
// version column; once the arrangement is indexed, every page is full.
type versionPage struct {
	rows coldata.Chunk // Len is the page's length, filled or not
	// packed holds, for each text column packed without string headers
	// (packText), its bytes and offsets, and packedInts, for each integer
	// column packed as 32-bit deltas (packInts), its base and deltas;
	// rows.Cols holds only such a column's NULL mask (Bytes or Ints nil).
	// nil when no column is packed so.
	packed     []*packedText
	packedInts []*packedInts
	born       []uint64
	// died is read and written with sync/atomic: the writer sets it while
	// readers check it.
	died []uint64
	// prev is the position of the key's previous version, or -1.
	prev []int
	mult []int64
}

func newVersionPage(typs []*types.T, n int, lean bool) *versionPage {
	p := &versionPage{rows: coldata.Chunk{Cols: make([]*coldata.Vec, len(typs)), Len: n}}
	if !lean {
		p.addVersionColumns()
	}
	for j, t := range typs {
		p.rows.Cols[j] = coldata.MakeVec(t, n)
		// Preallocated, so that a NULL arriving later does not change the
		// header by allocating it.
		p.rows.Cols[j].Nulls = make([]bool, n)
	}
	return p
}

func (p *versionPage) addVersionColumns() {
	n := p.rows.Len
	p.born, p.died, p.prev, p.mult = make([]uint64, n), make([]uint64, n), make([]int, n), make([]int64, n)
}

func (p *versionPage) lean() bool { return p.born == nil }

// fill makes page i full and returns it (see fillPages).
func (v *versions) fill(i int) *versionPage {
	v.fillPages(i, i+1)
	return v.pages[i]
}

// fillPages makes pages [lo, hi) full: copies sharing their rows, with
// version columns holding what the lean pages stand for, in a new list of
// pages. Readers' copies of the list keep the lean pages, which read the
// same for the rows they see; they may miss a died set from now on, but
// only ever at an epoch later than theirs.
func (v *versions) fillPages(lo, hi int) {
	if !slices.ContainsFunc(v.pages[lo:hi], (*versionPage).lean) {
		return
	}
	v.pages = slices.Clone(v.pages)
	for i, old := range v.pages[lo:hi] {
		if !old.lean() {
			continue
		}
		p := &versionPage{rows: old.rows}
		if old.packed != nil || old.packedInts != nil {
			p.rows.Cols = old.unpackedCols()
		}
		p.addVersionColumns()
		first := (lo + i) << versionPageBits
		for r := range max(min(p.rows.Len, v.n-first), 0) {
			p.born[r], p.died[r], p.prev[r], p.mult[r] = v.bornAt(first+r), liveForever, -1, 1
		}
		v.pages[lo+i] = p
	}
}

// bornAt returns the epoch a position of a lean page was born at.
func (v *versions) bornAt(pos int) uint64 {
	i := sort.Search(len(v.births), func(i int) bool { return v.births[i].pos > pos })
	return v.births[i-1].epoch
}

// at returns the page holding position pos and pos's row in it.
func (v *versions) at(pos int) (*versionPage, int) {
	return v.pages[pos>>versionPageBits], pos & (versionPageRows - 1)
}

// add appends a position holding row i of src with the given version data
// and returns it.
func (v *versions) add(typs []*types.T, src *coldata.Chunk, i int, born, died uint64, prev int, mult int64) int {
	if v.full() {
		v.addPage(typs, false)
	}
	pos := v.n
	p, r := v.at(pos)
	if p.lean() {
		p = v.fill(pos >> versionPageBits)
	}
	for j, col := range p.rows.Cols {
		col.SetFrom(r, src.Cols[j], i)
	}
	p.born[r], p.died[r], p.prev[r], p.mult[r] = born, died, prev, mult
	v.n++
	return pos
}

// addInserts appends positions holding the n rows of src from i, born at
// epoch born, live, without a previous version, each standing for its
// diff's copies (all positive): add for a run of insertions of an
// arrangement that is not indexed, page by page and a column at a time,
// into lean pages while every diff is 1.
func (v *versions) addInserts(typs []*types.T, src *coldata.Chunk, i, n int, born uint64) {
	if len(v.births) == 0 || v.births[len(v.births)-1].epoch != born {
		v.births = append(v.births, epochStart{born, v.n})
	}
	v.addRun(typs, src, i, n, born, true)
}

// addRun is addInserts into lean pages if lean (and every diff is 1), into
// full ones otherwise.
func (v *versions) addRun(typs []*types.T, src *coldata.Chunk, i, n int, born uint64, lean bool) {
	for n > 0 {
		if lean && v.full() && !v.firstShort() && n >= versionPageRows &&
			!slices.ContainsFunc(src.Diffs[i:i+versionPageRows], func(d int64) bool { return d != 1 }) {
			v.pages = append(v.pages, v.sharedLeanPage(typs, src, i))
			v.n += versionPageRows
			i += versionPageRows
			n -= versionPageRows
			continue
		}
		if v.full() {
			v.addPage(typs, lean)
		}
		p, r := v.at(v.n)
		k := min(n, p.rows.Len-r)
		if p.lean() && slices.ContainsFunc(src.Diffs[i:i+k], func(d int64) bool { return d != 1 }) {
			p = v.fill(v.n >> versionPageBits)
		}
		p.setRun(r, src, i, k, born)
		if lean {
			for _, col := range p.rows.Cols {
				if col.Typ.Phys() == types.PhysBytes {
					v.keepStrings(col.Bytes[r : r+k])
				}
			}
		}
		v.n += k
		i += k
		n -= k
	}
}

// alignedOrder returns the chunks of an epoch that only inserts one copy of
// each row into lean pages, reordered and one of them cut, so that the
// chunks of whole pages start at a page's first position: first rows that
// fill the current page, then the chunks of whole pages (which
// sharedLeanPage shares), then the rest. The dataflow hands a pass-through
// view its epoch as 1024-row slices of the stream's batches, from several
// workers: in arrival order, one batch of an odd size put every later page
// across two slices, sharing none. The rows of an epoch are born together
// and the arrangement is a multiset, so only their positions change.
func (v *versions) alignedOrder(cs []*coldata.Chunk) []*coldata.Chunk {
	if v.firstShort() {
		return cs
	}
	need := (versionPageRows - v.n&(versionPageRows-1)) & (versionPageRows - 1)
	var head, whole, rest []*coldata.Chunk
	for _, c := range cs {
		switch {
		case c.Len > 0 && c.Len&(versionPageRows-1) == 0:
			whole = append(whole, c)
		case need > 0:
			k := min(need, c.Len)
			head = append(head, c.Slice(0, k))
			if k < c.Len {
				rest = append(rest, c.Slice(k, c.Len))
			}
			need -= k
		default:
			rest = append(rest, c)
		}
	}
	if need > 0 && len(whole) > 0 {
		// Too few rows outside whole pages to fill the current page: the
		// first rows of a whole chunk fill it, its others go last.
		c := whole[0]
		head, rest, whole = append(head, c.Slice(0, need)), append(rest, c.Slice(need, c.Len)), whole[1:]
	}
	return slices.Concat(head, whole, rest)
}

// sharedLeanPage returns a lean page of the versionPageRows rows of src
// from i (insertions of one copy each) that shares src's columns of plain
// values (booleans, floats, intervals, decimals, and integers too far
// apart to pack) instead of copying them: Apply's chunks are immutable,
// and a lean page's rows are never written again (fill shares them too).
// A page starts anywhere in src, so the pages stay aligned to positions
// whatever the chunks' sizes; only the rows of a chunk before its first
// whole page and after its last are copied. A pass-through view over a
// stream then holds such columns once, in the chunks the stream's table
// keeps, instead of a second copy it writes into fresh memory (page
// faults) and the collector scans. Integers (and timestamps, dates)
// within 2^32 of the page's smallest are packed as 32-bit deltas
// (packInts: half the bytes, and a kept row's bytes are what the heap
// grows by), text is copied into the arena, packed (packText: a record's
// string holds its other text columns too, and a header a row is what the
// collector marks), and datums as add copies them. Decimals were copied
// too, a Set each: q1's 0.908 * price, which the view's output copies
// already (dataflow's keep), was copied twice. A NULL mask without a NULL
// is not kept (a byte a row and column).
func (v *versions) sharedLeanPage(typs []*types.T, src *coldata.Chunk, i int) *versionPage {
	p := &versionPage{rows: coldata.Chunk{Cols: make([]*coldata.Vec, len(typs)), Len: versionPageRows}}
	for j, t := range typs {
		switch t.Phys() {
		case types.PhysInt:
			if packed, nulls, ok := packInts(src.Cols[j], i, versionPageRows); ok {
				if p.packedInts == nil {
					p.packedInts = make([]*packedInts, len(typs))
				}
				p.packedInts[j] = packed
				p.rows.Cols[j] = &coldata.Vec{Typ: t, Nulls: nulls}
				continue
			}
			p.rows.Cols[j] = sharedSlice(src.Cols[j], i, versionPageRows)
			continue
		case types.PhysBool, types.PhysFloat, types.PhysInterval, types.PhysDecimal:
			p.rows.Cols[j] = sharedSlice(src.Cols[j], i, versionPageRows)
			continue
		case types.PhysBytes:
			if packed, nulls, ok := v.packText(src.Cols[j], i, versionPageRows); ok {
				if p.packed == nil {
					p.packed = make([]*packedText, len(typs))
				}
				p.packed[j] = packed
				p.rows.Cols[j] = &coldata.Vec{Typ: t, Nulls: nulls}
				continue
			}
		}
		col := coldata.MakeVec(t, versionPageRows)
		col.SetRange(0, src.Cols[j], i, versionPageRows)
		if t.Phys() == types.PhysBytes {
			v.keepStrings(col.Bytes)
		}
		p.rows.Cols[j] = col
	}
	return p
}

// packedText is a text column of a lean page without a string header a
// row: row r is bytes[offs[r]:offs[r+1]] (empty when NULL). Neither slice
// holds pointers, so the collector does not mark a page's rows one by one
// (a pass-through view of 10 M bids held 10 M headers, 160 MB it scanned
// at every cycle), and a row costs 4 bytes besides its text instead of 16.
// Readers make strings into bytes (unsafe.String, no copy): bytes is never
// written once the page is made.
type packedText struct {
	offs  []uint32
	bytes []byte
}

// at returns row r's text, sharing the page's bytes.
func (t *packedText) at(r int) string {
	lo, hi := t.offs[r], t.offs[r+1]
	if lo == hi {
		return ""
	}
	return unsafe.String(&t.bytes[lo], int(hi-lo))
}

// packText packs the n rows of the text column col from i into the
// arena: their bytes, one after the other, and their offsets. It returns
// col's NULL mask of those rows (shared: Apply's chunks are immutable),
// and false when their text is too long for 32-bit offsets.
func (v *versions) packText(col *coldata.Vec, i, n int) (*packedText, []bool, bool) {
	strs := col.Bytes[i : i+n]
	total := 0
	for _, str := range strs {
		total += len(str)
	}
	if total > math.MaxUint32 {
		return nil, nil, false
	}
	arena := v.arenaRoom(total, packBlockPages*total)
	off := len(arena)
	t := &packedText{offs: make([]uint32, n+1)}
	for x, str := range strs {
		arena = append(arena, str...)
		t.offs[x+1] = uint32(len(arena) - off)
	}
	t.bytes = arena[off:len(arena):len(arena)]
	v.arena = arena
	return t, nullsOf(col, i, n), true
}

// nullsOf returns col's NULL mask of its n rows from i (shared), or nil
// when none of them is NULL.
func nullsOf(col *coldata.Vec, i, n int) []bool {
	if col.Nulls == nil || !slices.Contains(col.Nulls[i:i+n], true) {
		return nil
	}
	return col.Nulls[i : i+n : i+n]
}

// sharedSlice returns the n rows of col from i, sharing col's values and
// its NULL mask if any of them is NULL.
func sharedSlice(col *coldata.Vec, i, n int) *coldata.Vec {
	out := col.Slice(i, i+n)
	out.Nulls = nullsOf(col, i, n)
	return out
}

// packedInts is an integer column of a lean page whose values lie within
// 2^32 of the smallest: row r is base + deltas[r]. Half the bytes of the
// values shared as they are: ids, counts and timestamps of a page's rows
// are usually that close.
type packedInts struct {
	base   int64
	deltas []uint32
}

// at returns row r's value.
func (t *packedInts) at(r int) int64 { return t.base + int64(t.deltas[r]) }

// packInts packs the n rows of the integer column col from i as deltas
// from the smallest of them. It returns col's NULL mask of those rows
// (shared, or nil when none is NULL), and false when they are too far
// apart for 32-bit deltas.
func packInts(col *coldata.Vec, i, n int) (*packedInts, []bool, bool) {
	vals := col.Ints[i : i+n]
	nulls := nullsOf(col, i, n)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	if nulls == nil {
		lo, hi = slices.Min(vals), slices.Max(vals)
	} else {
		for r, x := range vals {
			if !nulls[r] {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	if lo > hi {
		lo, hi = 0, 0 // every row NULL
	}
	if uint64(hi)-uint64(lo) > math.MaxUint32 {
		return nil, nil, false
	}
	// A NULL row's delta is whatever its value gives: it is never read.
	t := &packedInts{base: lo, deltas: make([]uint32, n)}
	for r, x := range vals {
		t.deltas[r] = uint32(x - lo)
	}
	return t, nulls, true
}

// unpackedCols returns the page's columns with each packed text column
// as strings into its bytes (not copied) and each packed integer column
// as its values, for a full page made from it.
func (p *versionPage) unpackedCols() []*coldata.Vec {
	cols := slices.Clone(p.rows.Cols)
	for j, t := range p.packed {
		if t != nil {
			cols[j] = &coldata.Vec{Typ: cols[j].Typ, Nulls: cols[j].Nulls, Bytes: unpackAll(p.rows.Len, t.at)}
		}
	}
	for j, t := range p.packedInts {
		if t != nil {
			cols[j] = &coldata.Vec{Typ: cols[j].Typ, Nulls: cols[j].Nulls, Ints: unpackAll(p.rows.Len, t.at)}
		}
	}
	return cols
}

// unpackAll returns the n rows of a packed column, row r being at(r).
func unpackAll[T any](n int, at func(r int) T) []T {
	xs := make([]T, n)
	for r := range xs {
		xs[r] = at(r)
	}
	return xs
}

// setRun writes the k rows of src from i at rows r on of p, each born at
// epoch born, live, without a previous version and standing for its diff's
// copies (1 in a lean page).
func (p *versionPage) setRun(r int, src *coldata.Chunk, i, k int, born uint64) {
	for j, col := range p.rows.Cols {
		col.SetRange(r, src.Cols[j], i, k)
	}
	if !p.lean() {
		for x := r; x < r+k; x++ {
			p.born[x], p.died[x], p.prev[x] = born, liveForever, -1
		}
		copy(p.mult[r:r+k], src.Diffs[i:i+k])
	}
}

// keepStrings replaces strs by copies in arena. A string cut from a larger
// one keeps all of it alive: the JSON decoder makes one string per record
// holding its every text column, of which a view may keep one (q0 keeps
// bids' extra, not their channel and url: at 9.2 M rows 958 MB of records
// held for 357 MB of extras).
// Copied, the record goes once the stream's batch does, and the view's
// strings lie packed in blocks without per-object rounding.
func (v *versions) keepStrings(strs []string) {
	for x, str := range strs {
		if len(str) == 0 {
			continue
		}
		v.arenaRoom(len(str), stringArenaBytes)
		off := len(v.arena)
		v.arena = append(v.arena, str...)
		strs[x] = unsafe.String(&v.arena[off], len(str))
	}
}

// full reports whether every page is filled.
func (v *versions) full() bool { return v.n == v.capacity() }

// capacity returns how many positions the pages hold. Only the first page
// may be shorter than versionPageRows, and only while it is the only one.
func (v *versions) capacity() int {
	if len(v.pages) == 0 {
		return 0
	}
	return (len(v.pages)-1)<<versionPageBits + v.pages[len(v.pages)-1].rows.Len
}

// firstShort reports whether there is at most one page and it is short.
func (v *versions) firstShort() bool {
	return len(v.pages) == 0 || len(v.pages) == 1 && v.pages[0].rows.Len < versionPageRows
}

// addPage makes room for one more position: a first page twice as long
// while the first is short, otherwise one more page, lean if asked.
func (v *versions) addPage(typs []*types.T, lean bool) {
	if v.firstShort() {
		v.growFirst(typs, min(max(2*v.n, firstVersionRows), versionPageRows), lean)
		return
	}
	v.pages = append(v.pages, newVersionPage(typs, versionPageRows, lean))
}

// reserve makes room for n more positions in the first page while it is
// short, so that an epoch of many changes does not double it many times.
func (v *versions) reserve(typs []*types.T, n int, lean bool) {
	if v.firstShort() && v.n+n > v.capacity() {
		v.growFirst(typs, min(max(v.n+n, 2*v.n, firstVersionRows), versionPageRows), lean)
	}
}

// growFirst replaces the first page, the only one, by one of the given
// length holding the same positions, lean if asked and the first page is.
func (v *versions) growFirst(typs []*types.T, rows int, lean bool) {
	if len(v.pages) > 0 && v.pages[0].lean() && !lean {
		v.fill(0)
	}
	p := newVersionPage(typs, rows, lean && (len(v.pages) == 0 || v.pages[0].lean()))
	if v.n > 0 {
		old := v.pages[0]
		for j, col := range p.rows.Cols {
			for r := range v.n {
				col.SetFrom(r, old.rows.Cols[j], r)
			}
		}
		if !p.lean() {
			copy(p.born, old.born)
			copy(p.died, old.died)
			copy(p.prev, old.prev)
			copy(p.mult, old.mult)
		}
	}
	// A new list, not a write to the one readers' copies share. Readers of
	// the old page may miss a died set from now on, but only ever at an
	// epoch later than theirs.
	v.pages = []*versionPage{p}
}

type epochCount struct {
	epoch uint64
	n     int64
}

// arrangementGen is one generation of pages, from one compaction to the next.
type arrangementGen struct {
	// latest is the generation's versions as of the last publish or the
	// one under way, stored before any keyEntry.pos it holds: a reader that
	// finds a position past its snapshot's versions walks back from it
	// through latest.
	latest atomic.Pointer[versions]
	// horizon is the epoch of the compaction that made the generation:
	// versions dead by then were dropped, so it serves epochs >= horizon.
	horizon uint64
}

// publishedGen is what Snapshot reads: a generation, its versions and its
// keys as of the last publish, never changed once made.
type publishedGen struct {
	gen  *arrangementGen
	v    versions
	keys orderTree[*keyEntry] // frozen
}

// keyEntry locates the latest version of a key.
type keyEntry struct {
	// pos is the latest published version's position, -1 before the first
	// is published; written by the writer as it publishes, read by
	// readers.
	pos atomic.Int64
	// writerPos is the latest version the writer has appended; only the
	// writer touches it.
	writerPos int
}

// newKeyEntry returns an entry whose latest version, published or not, is
// at pos.
func newKeyEntry(pos int) *keyEntry {
	e := &keyEntry{writerPos: pos}
	e.pos.Store(int64(pos))
	return e
}

const liveForever = math.MaxUint64

// presizedIndexRows is the size of an epoch into an empty index from which
// the index is made for the epoch's rows at once.
const presizedIndexRows = 1 << 12

// NewArrangement returns an empty arrangement of rows of types typs. key lists
// the unique key columns (e.g. the GROUP BY key), or is nil when rows have no
// unique key: then rows are a multiset keyed by the whole row.
func NewArrangement(typs []*types.T, key []int) *Arrangement {
	a := &Arrangement{typs: typs, key: key, indexed: key != nil, cur: &arrangementGen{}, index: map[string]*keyEntry{}}
	a.published.Store(&publishedGen{gen: a.cur})
	return a
}

func (a *Arrangement) Types() []*types.T { return a.typs }
func (a *Arrangement) Key() []int        { return a.key }

// Apply installs the consolidated changes cs (one epoch's, in any number of
// chunks) of epoch e, which must be later than every epoch applied before.
// Retractions are applied before insertions (a keyed view changes a row as
// -old,+new). Changing what is not there (retracting an absent row,
// inserting a key twice) is a [BUG] error, after which Apply keeps failing
// and readers keep the epochs published before. Into an empty arrangement
// cs need not be consolidated when it holds a retraction (a restored
// view's base rows then its deltas' changes): Apply consolidates them, or
// a keyed arrangement's bulk load settles them (load).
func (a *Arrangement) Apply(e uint64, cs ...*coldata.Chunk) error {
	if a.failed != nil {
		return a.failed
	}
	if a.applied && e <= a.lastEpoch {
		a.failed = sqlerr.Bug("arrangement: epoch %d applied after epoch %d", e, a.lastEpoch)
		return a.failed
	}
	a.applied, a.lastEpoch = true, e
	a.takeIndex()
	changes := 0
	for _, c := range cs {
		changes += c.Len
	}
	if a.work.n == 0 && len(a.index) == 0 && !nonNegative(cs) {
		// Into an empty arrangement, a retraction takes back a row the
		// same changes insert: they are a restored view's base rows with
		// its deltas' changes, not consolidated. A keyed view's are
		// settled key by key as they load (its keys are sorted anyway);
		// anything else is consolidated first.
		if a.key != nil && changes > presizedIndexRows {
			if loaded, err := a.bulkLoad(e, cs, changes, true); loaded || err != nil {
				return err
			}
		}
		cs = ConsolidateChunks(cs)
		changes = 0
		for _, c := range cs {
			changes += c.Len
		}
	}
	if a.key != nil && a.work.n == 0 && len(a.index) == 0 && changes > presizedIndexRows && insertsOnce(cs) {
		_, err := a.bulkLoad(e, cs, changes, false)
		return err
	}
	a.work.reserve(a.typs, changes, !a.indexed)
	if !a.indexed && insertsOnce(cs) {
		cs = a.work.alignedOrder(cs)
	}
	if a.indexed && len(a.index) == 0 && changes > presizedIndexRows {
		// A view's first epoch may hold millions of keys: a map sized for
		// them once is not rehashed at every doubling.
		a.index = make(map[string]*keyEntry, changes)
	}
	rows, kills := a.rows, 0
	for _, retract := range []bool{true, false} {
		for _, c := range cs {
			r, k, err := a.applyPass(e, c, retract)
			if err != nil {
				a.failed = err
				return err
			}
			rows += r
			kills += k
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

// takeIndex installs the index a bulk load is making, once it is made.
func (a *Arrangement) takeIndex() {
	if a.indexing != nil {
		a.index, a.indexing = <-a.indexing, nil
	}
}

// bulkLoad is Apply of epoch e's n changes cs into an empty keyed
// arrangement by load (settle as load's). It reports false, having
// changed nothing, when the changes do not settle to an insertion of one
// copy per key.
func (a *Arrangement) bulkLoad(e uint64, cs []*coldata.Chunk, n int, settle bool) (bool, error) {
	l, err := a.load(e, cs, n, settle)
	if err != nil {
		a.failed = err
		return false, err
	}
	if l.items == nil {
		return false, nil
	}
	a.rows = int64(l.live)
	a.work.lens = append(a.work.lens, epochCount{e, a.rows})
	if dead := n - l.live; dead > 0 {
		a.kills = append(a.kills, epochCount{e, int64(dead)})
		a.killed += int64(dead)
	}
	a.publish()
	a.indexing = make(chan map[string]*keyEntry, 1)
	go func(indexing chan<- map[string]*keyEntry) {
		index := make(map[string]*keyEntry, l.live)
		for p := range l.items {
			if l.items[p].count != 0 {
				index[l.items[p].key] = &l.entries[p]
			}
		}
		indexing <- index
	}(a.indexing)
	return true, nil
}

// nonNegative reports whether no change of cs is a retraction.
func nonNegative(cs []*coldata.Chunk) bool {
	for _, c := range cs {
		for _, d := range c.Diffs[:c.Len] {
			if d < 0 {
				return false
			}
		}
	}
	return true
}

// insertsOnce reports whether every change of cs inserts one copy.
func insertsOnce(cs []*coldata.Chunk) bool {
	for _, c := range cs {
		for _, d := range c.Diffs[:c.Len] {
			if d != 1 {
				return false
			}
		}
	}
	return true
}

// load is Apply of epoch e into an empty keyed arrangement whose n changes
// in cs each insert a row (a view's first epoch; a restored view's rows),
// in bulk and on every CPU: the pages are cut into a range per CPU, each
// allocating its pages, copying its rows into them a column at a time and
// encoding its keys into one block of its own; then the keys are sorted
// (which finds a key given twice) and the ordered tree is built whole (an
// add per key, each a descent of the tree, was most of building a restored
// view's index), both on every CPU, the tree straight from the sort's
// positions and prefixes.
//
// With settle, the changes are a restored view's base rows and its deltas'
// changes, not consolidated (each an insertion or a retraction of one
// copy): every change takes a position, the base's pages adopted as they
// are, and the sort brings each key's changes together, where settleKeys
// keeps a position for the row they leave and lets the others die at e,
// never visible. Consolidating them first hashed and probed every row of
// the base, and copied the rows of every page a delta touched (most, at
// 8 M groups) into new pages.
//
// It returns the keys' items and their entries, position by position (the
// tree holds the live ones), for Apply to make the index's map of; no items
// when the changes do not settle to an insertion of one copy per key.
func (a *Arrangement) load(e uint64, cs []*coldata.Chunk, n int, settle bool) (loadedKeys, error) {
	if settle {
		// A delta's chunks, of any length, ahead of the base's pages would
		// put every page after them off a page's bounds, copied.
		cs = pageSizedFirst(cs)
	}
	// starts[c] is the position of the first row of cs[c].
	starts := make([]int, len(cs)+1)
	for c, ch := range cs {
		starts[c+1] = starts[c] + ch.Len
	}
	pages := make([]*versionPage, (n+versionPageRows-1)>>versionPageBits)
	entries := makeHuge[keyEntry](n)
	items := makeHuge[orderItem[*keyEntry]](n)
	parts := min(runtime.GOMAXPROCS(0), len(pages))
	like := loadedVersions(e)
	// changed[w] counts part w's changes that are not insertions of one
	// copy (-1 for one neither that nor a retraction of one).
	changed := make([]int, parts)
	forEach(parts, func(w int) {
		lo, hi := w*len(pages)/parts<<versionPageBits, min((w+1)*len(pages)/parts<<versionPageBits, n)
		// The chunk holding position lo: the last starting at or before it.
		c := sort.SearchInts(starts, lo+1) - 1
		// The keys are encoded into scratch, then copied into blocks that
		// are never grown, so that each key's string is made at once. One
		// block grown to the part's keys (sized from the keys so far) was
		// regrown, copied and cleared a third of this loop's time. A block
		// is sized for the part's keys left at this key's length, up to
		// loadKeyBlockBytes, and advised for huge pages: blocks of 1 MiB
		// in small pages spent as much again faulting them in.
		var block, scratch []byte
		// died is the block the adopted pages' died columns are cut
		// from, for the part's pages left when first needed.
		var died []uint64
		for pos := lo; pos < hi; {
			for starts[c+1] <= pos {
				c++
			}
			r, i := pos&(versionPageRows-1), pos-starts[c]
			k := min(starts[c+1]-pos, versionPageRows-r, hi-pos)
			switch {
			case r == 0 && i == 0 && pageSized(cs[c]):
				if len(died) == 0 {
					died = makeHuge[uint64]((hi - pos + versionPageRows - 1) &^ (versionPageRows - 1))
				}
				pages[pos>>versionPageBits] = adoptPage(cs[c], like, died[:versionPageRows:versionPageRows])
				died = died[versionPageRows:]
			case r == 0:
				pages[pos>>versionPageBits] = newVersionPage(a.typs, versionPageRows, false)
				fallthrough
			default:
				pages[pos>>versionPageBits].setRun(r, cs[c], i, k, e)
			}
			for _, d := range cs[c].Diffs[i : i+k] {
				if d != 1 && changed[w] >= 0 {
					changed[w]++
					if d != -1 {
						changed[w] = -1
					}
				}
			}
			for x := range k {
				scratch = RowKey(scratch[:0], cs[c], a.key, i+x)
				var key string
				if len(scratch) > 0 {
					if cap(block)-len(block) < len(scratch) {
						block = makeHuge[byte](max(len(scratch), min(loadKeyBlockBytes, (hi-pos-x)*len(scratch))))[:0]
					}
					block = append(block, scratch...)
					key = unsafe.String(&block[len(block)-len(scratch)], len(scratch))
				}
				p := pos + x
				entries[p].pos.Store(int64(p))
				entries[p].writerPos = p
				items[p] = orderItem[*keyEntry]{key: key, count: 1, val: &entries[p]}
			}
			pos += k
		}
	})
	// inOrder is the k-th live item in key order with its key's prefixes.
	var inOrder func(k int) orderEntry[*keyEntry]
	live := n
	if !settle && ascending(items, parts) {
		// Rows held in key order (keys that grow with time, groups
		// created in key order) are written so in a checkpoint.
		inOrder = func(k int) orderEntry[*keyEntry] {
			return orderEntry[*keyEntry]{prefixesOf(items[k].key), &items[k]}
		}
	} else {
		order, prefixes, dup := sortItems(items, parts)
		if settle {
			if slices.Contains(changed, -1) {
				return loadedKeys{}, nil
			}
			dead, ok := settleKeys(e, loadRows{cs, starts, pages}, items, order, prefixes, parts, sumOf(changed))
			if !ok {
				return loadedKeys{}, nil
			}
			live -= dead
			if dead > 0 {
				order = slices.DeleteFunc(order, func(i int32) bool { return items[i].count == 0 })
			}
		} else if dup >= 0 {
			pg := pages[dup>>versionPageBits]
			return loadedKeys{}, sqlerr.New(sqlerr.UniqueViolation, "two rows have the same key value %s", a.keyText(&pg.rows, dup&(versionPageRows-1)))
		}
		inOrder = func(k int) orderEntry[*keyEntry] {
			i := order[k]
			return orderEntry[*keyEntry]{keyPrefixes{prefixes[0][i], prefixes[1][i]}, &items[i]}
		}
	}
	a.work.pages, a.work.n = pages, n
	a.live += live
	a.keys = buildOrderTreeOf(live, inOrder)
	return loadedKeys{items: items, entries: entries, live: live}, nil
}

// loadedKeys is what load made of its changes: an item and an entry a
// position (an item of count 0 for a position that died in the load) and
// the number of live ones.
type loadedKeys struct {
	items   []orderItem[*keyEntry]
	entries []keyEntry
	live    int
}

// loadKeyBlockBytes is the most bytes of a block load encodes keys into.
const loadKeyBlockBytes = 8 << 20

// pageSized reports whether c's rows fill a page exactly: a restored
// view's rows are read in the chunks its checkpoint wrote, a page each.
func pageSized(c *coldata.Chunk) bool {
	if c.Len != versionPageRows {
		return false
	}
	for _, v := range c.Cols {
		if v.Len() != versionPageRows {
			return false
		}
	}
	return true
}

// loadedVersions returns the version columns of a full page of rows
// inserted at epoch e, one copy each, without a previous version.
func loadedVersions(e uint64) *versionPage {
	p := &versionPage{rows: coldata.Chunk{Len: versionPageRows}}
	p.addVersionColumns()
	for r := range versionPageRows {
		p.born[r], p.died[r], p.prev[r], p.mult[r] = e, liveForever, -1, 1
	}
	return p
}

// adoptPage returns a page of c's rows (page-sized insertions of one copy
// each) with the version columns of like (loadedVersions), holding c's
// columns rather than a copy: Apply's chunks are immutable, and a full
// page's rows are never written again. Nor are its born, prev and mult,
// which it shares with like: only died changes once a position is
// appended (a kill sets it), so the page's is like's copied into died, a
// page's worth (load cuts them from a block advised for huge pages).
func adoptPage(c *coldata.Chunk, like *versionPage, died []uint64) *versionPage {
	copy(died, like.died)
	return &versionPage{
		rows: coldata.Chunk{Cols: slices.Clone(c.Cols), Len: versionPageRows},
		born: like.born, died: died, prev: like.prev, mult: like.mult,
	}
}

// ascending reports whether the keys of items strictly ascend, looking at
// parts ranges of them at once.
func ascending[V any](items []orderItem[V], parts int) bool {
	ok := make([]bool, parts)
	forEach(parts, func(w int) {
		lo, hi := max(w*len(items)/parts, 1), (w+1)*len(items)/parts
		for i := lo; i < hi; i++ {
			if items[i-1].key >= items[i].key {
				return
			}
		}
		ok[w] = true
	})
	return !slices.Contains(ok, false)
}

// sortItems returns the positions of items in key order: a radix sort on
// the keys' first 16 bytes (passes whose byte is the same in every key are
// skipped), then a comparison sort of each run of keys equal in them. It
// also returns those prefixes, position by position (keyPrefix from 0 and
// from 8: the tree's entries keep them), and the index of an item whose
// key another has too, -1 if none: equal keys are equal in their first 16
// bytes, so they meet in a run. The prefixes, the counts of their bytes
// and the runs are taken on parts ranges at once: on one goroutine the
// sort was a quarter of a restart's time to serving at 8 M keys (1.1 s),
// with the other CPU idle.
func sortItems[V any](items []orderItem[V], parts int) (order []int32, prefixes [2][]uint64, dup int) {
	n := len(items)
	parts = max(1, min(parts, n))
	// span is part w's range of positions.
	span := func(w int) (int, int) { return w * n / parts, (w + 1) * n / parts }
	hi, lo := makeHuge[uint64](n), makeHuge[uint64](n)
	order, tmp := makeHuge[int32](n), makeHuge[int32](n)
	forEach(parts, func(w int) {
		from, to := span(w)
		for i := from; i < to; i++ {
			hi[i], lo[i] = keyPrefix(items[i].key, 0), keyPrefix(items[i].key, 8)
			order[i] = int32(i)
		}
	})
	// The bytes are counted on every CPU, each over a range of the
	// prefixes, read in order; the scatter, whose reads are random, is
	// stable only over the order as a whole, so one goroutine does it (a
	// count per part of the order, for a scatter per part, read the
	// prefixes at random too, which cost more CPU than it saved of wall).
	partCounts := make([][256]int, parts)
	for _, words := range [][]uint64{lo, hi} {
		for shift := 0; shift < 64; shift += 8 {
			forEach(parts, func(w int) {
				from, to := span(w)
				c := &partCounts[w]
				*c = [256]int{}
				for _, word := range words[from:to] {
					c[byte(word>>shift)]++
				}
			})
			var counts [256]int
			for w := range partCounts {
				for b, k := range partCounts[w] {
					counts[b] += k
				}
			}
			if slices.Contains(counts[:], n) {
				continue // every key has this byte
			}
			sum := 0
			for b, c := range counts {
				counts[b] = sum
				sum += c
			}
			for _, i := range order {
				b := byte(words[i] >> shift)
				tmp[counts[b]] = i
				counts[b]++
			}
			order, tmp = tmp, order
		}
	}
	samePrefix := func(x, y int) bool { return hi[order[x]] == hi[order[y]] && lo[order[x]] == lo[order[y]] }
	// starts[w] is where part w's runs begin: a run that began in the
	// part before is that part's, found before any run is sorted.
	starts := make([]int, parts+1)
	starts[parts] = n
	for w := 1; w < parts; w++ {
		from, _ := span(w)
		from = max(from, starts[w-1])
		for from > 0 && from < n && samePrefix(from-1, from) {
			from++
		}
		starts[w] = from
	}
	dups := make([]int, parts)
	forEach(parts, func(w int) {
		dups[w] = -1
		for lo0, to := starts[w], starts[w+1]; lo0 < to; {
			hi0 := lo0 + 1
			for hi0 < to && samePrefix(hi0, lo0) {
				hi0++
			}
			if run := order[lo0:hi0]; len(run) > 1 {
				slices.SortFunc(run, func(x, y int32) int { return strings.Compare(items[x].key, items[y].key) })
				for k := 1; k < len(run) && dups[w] < 0; k++ {
					if items[run[k]].key == items[run[k-1]].key {
						dups[w] = int(run[k])
					}
				}
			}
			lo0 = hi0
		}
	})
	dup = -1
	for _, d := range dups {
		dup = max(dup, d)
	}
	return order, [2][]uint64{hi, lo}, dup
}

// applyPass applies c's retractions, or its insertions, at epoch e, and
// returns the change in visible rows and how many positions it killed.
func (a *Arrangement) applyPass(e uint64, c *coldata.Chunk, retract bool) (rows int64, kills int, err error) {
	for i := 0; i < c.Len; i++ {
		d := c.Diffs[i]
		if (d < 0) != retract {
			continue
		}
		if !a.indexed {
			if d > 0 {
				// Only insertions so far: the run of them from i is
				// appended as it is.
				n := 1
				for i+n < c.Len && c.Diffs[i+n] > 0 {
					n++
				}
				a.work.addInserts(a.typs, c, i, n, e)
				a.live += n
				for _, d := range c.Diffs[i : i+n] {
					rows += d
				}
				i += n - 1
				continue
			}
			kills += a.indexRows(e)
		}
		killed, err := a.change(e, c, i, d)
		if err != nil {
			return 0, 0, err
		}
		rows += d
		kills += killed
	}
	return rows, kills, nil
}

// change applies row i of c with diff d at epoch e and returns how many
// positions it killed.
func (a *Arrangement) change(e uint64, c *coldata.Chunk, i int, d int64) (int, error) {
	if a.key == nil {
		a.keyBuf = RowIdentity(a.keyBuf[:0], c, nil, i)
	} else {
		a.keyBuf = RowKey(a.keyBuf[:0], c, a.key, i)
	}
	entry := a.index[string(a.keyBuf)]
	pos := -1
	if entry != nil {
		pos = entry.writerPos
	}
	var page *versionPage
	var row int
	if pos >= 0 {
		page, row = a.work.at(pos)
	}
	live := pos >= 0 && page.died[row] == liveForever
	n := d
	if live {
		n += page.mult[row]
	}
	switch {
	case d < 0 && (!live || !a.sameRow(page, row, c, i)):
		return 0, sqlerr.Bug("arrangement: retracting a row that is not there")
	case n < 0:
		return 0, sqlerr.Bug("arrangement: retracting more copies of a row than there are")
	case a.key != nil && n > 1:
		return 0, sqlerr.New(sqlerr.UniqueViolation, "two rows have the same key value %s", a.keyText(c, i))
	}
	killed := 0
	if live {
		atomic.StoreUint64(&page.died[row], e)
		a.live--
		killed = 1
	}
	if n > 0 {
		if entry == nil {
			// Readers find the key once the tree is published, with its
			// first version. The index and the tree share one copy of it.
			entry = newKeyEntry(-1)
			item := &orderItem[*keyEntry]{key: string(a.keyBuf), count: 1, val: entry}
			a.index[item.key] = entry
			a.keys.addItem(a.keyBuf, 1, item)
		}
		entry.writerPos = a.appendVersion(e, c, i, n, pos)
		a.moved = append(a.moved, entry)
	}
	return killed, nil
}

// sameRow reports whether row r of page p holds row i of c; a keyed
// retraction must name the row that is there, not just its key.
func (a *Arrangement) sameRow(p *versionPage, r int, c *coldata.Chunk, i int) bool {
	return a.key == nil || sameIdentity(c.Cols, i, p.rows.Cols, r)
}

// indexRows builds the identity index of an unkeyed arrangement that had
// only insertions so far (see indexed), at its first retraction, in epoch e.
// Equal rows inserted in different epochs sit at several positions; they
// become one version holding their sum. It returns how many positions it
// killed.
func (a *Arrangement) indexRows(e uint64) int {
	a.indexed = true
	a.work.fillPages(0, len(a.work.pages))
	index := make(map[string]*keyEntry, a.live)
	var items []*orderItem[*keyEntry]
	kills := 0
	for pos, n := 0, a.work.n; pos < n; pos++ {
		p, r := a.work.at(pos)
		if p.died[r] != liveForever {
			continue
		}
		a.buf = RowIdentity(a.buf[:0], &p.rows, nil, r)
		if entry := index[string(a.buf)]; entry != nil {
			old, oldRow := a.work.at(entry.writerPos)
			atomic.StoreUint64(&old.died[oldRow], e)
			atomic.StoreUint64(&p.died[r], e)
			a.live -= 2
			kills += 2
			entry.writerPos = a.appendVersion(e, &p.rows, r, old.mult[oldRow]+p.mult[r], entry.writerPos)
			a.moved = append(a.moved, entry)
			continue
		}
		entry := newKeyEntry(pos)
		index[string(a.buf)] = entry
		items = append(items, &orderItem[*keyEntry]{key: string(a.buf), count: 1, val: entry})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	a.index, a.keys = index, buildOrderTree(items)
	return kills
}

// appendVersion appends a live version of row i of c born at epoch e and
// returns its position.
func (a *Arrangement) appendVersion(e uint64, c *coldata.Chunk, i int, mult int64, prev int) int {
	a.live++
	return a.work.add(a.typs, c, i, e, liveForever, prev, mult)
}

// publish makes the writer's appends and keys visible to readers. The
// versions holding the entries' new positions are stored before the
// positions, and those before the snapshot that must find them: a reader
// of an earlier snapshot that finds a new position can walk back from it,
// and a reader of this one finds no position it cannot see.
func (a *Arrangement) publish() {
	latest := a.work
	a.cur.latest.Store(&latest)
	for _, entry := range a.moved {
		entry.pos.Store(int64(entry.writerPos))
	}
	a.published.Store(&publishedGen{gen: a.cur, v: a.work, keys: a.keys})
	a.keys.freeze()
	clear(a.moved)
	a.moved = a.moved[:0]
}

// Compact drops the versions that no reader at an epoch >= visible can see;
// call it after publishing epoch visible. It works only once the dead
// versions it can drop outnumber the live ones (and 1024), so calling it
// every epoch costs O(1) amortized per change. It reports whether it
// worked: snapshots taken before then hold the old versions.
func (a *Arrangement) Compact(visible uint64) bool {
	if a.failed != nil {
		// The arrays hold the failed Apply's unpublished changes.
		return false
	}
	dead := a.killed
	for i := len(a.kills) - 1; i >= 0 && a.kills[i].epoch > visible; i-- {
		dead -= a.kills[i].n
	}
	if dead <= int64(max(a.live, 1024)) {
		return false
	}
	// A bulk load's index, still being made, would replace the one made
	// below.
	a.takeIndex()
	old := a.work
	var next versions
	next.reserve(a.typs, old.n-int(dead), false)
	// renumber maps an old position to its new one, or -1 if dropped. A
	// key's versions die in order, so a kept version's prev is kept or is
	// the end of its chain.
	renumber := make([]int, old.n)
	for pos := range old.n {
		p, r := old.at(pos)
		died := p.died[r]
		if died <= visible {
			renumber[pos] = -1
			continue
		}
		prev := p.prev[r]
		if prev >= 0 {
			prev = renumber[prev]
		}
		renumber[pos] = next.add(a.typs, &p.rows, r, p.born[r], died, prev, p.mult[r])
	}
	if a.key == nil {
		// The kept rows' strings may lie in blocks addInserts filled,
		// each held whole by any one of them: packed anew, the blocks of
		// the rows compaction drops go.
		for i, p := range next.pages {
			for _, col := range p.rows.Cols {
				if col.Typ.Phys() == types.PhysBytes {
					next.keepStrings(col.Bytes[:min(p.rows.Len, next.n-i<<versionPageBits)])
				}
			}
		}
	}
	// Keep the last count at or before visible: it holds until the next one.
	first := sort.Search(len(old.lens), func(i int) bool { return old.lens[i].epoch > visible })
	next.lens = slices.Clone(old.lens[max(first-1, 0):])
	// Fresh entries: old snapshots keep reading the old ones.
	gen := &arrangementGen{horizon: visible}
	gen.latest.Store(&next)
	index := make(map[string]*keyEntry, a.live)
	items := make([]*orderItem[*keyEntry], 0, a.live)
	keys := a.keys.seekKey(nil)
	for item := keys.next(); item != nil; item = keys.next() {
		if p := renumber[item.val.writerPos]; p >= 0 {
			entry := newKeyEntry(p)
			index[item.key] = entry
			items = append(items, &orderItem[*keyEntry]{key: item.key, count: 1, val: entry})
		}
	}
	a.index, a.keys = index, buildOrderTree(items)
	a.kills = slices.DeleteFunc(a.kills, func(k epochCount) bool { return k.epoch <= visible })
	a.killed -= dead
	a.work = next
	a.cur = gen
	a.published.Store(&publishedGen{gen: gen, v: next, keys: a.keys})
	a.keys.freeze()
	return true
}

// ArrangementSnapshot reads an arrangement as of one epoch. It stays valid
// and consistent whatever the writer does later.
type ArrangementSnapshot struct {
	a     *Arrangement
	gen   *arrangementGen
	epoch uint64
	v     versions
	keys  orderTree[*keyEntry]
	// leanBorn is the number of positions born by epoch while the
	// arrangement was not indexed: those of lean pages below it are
	// visible.
	leanBorn int
}

// Snapshot returns a reader of the arrangement as of epoch e. e must be
// published: no Apply of an epoch <= e may follow. Snapshot returns nil
// when versions e needs have been compacted away (a Compact with visible >
// e ran), which happens to a caller that read the latest published epoch
// only if the writer published and compacted a later one before the call:
// retry with the latest published epoch.
func (a *Arrangement) Snapshot(e uint64) *ArrangementSnapshot {
	p := a.published.Load()
	if e < p.gen.horizon {
		return nil
	}
	s := &ArrangementSnapshot{a: a, gen: p.gen, epoch: e, v: p.v, keys: p.keys, leanBorn: p.v.n}
	if i := sort.Search(len(s.v.births), func(i int) bool { return s.v.births[i].epoch > e }); i < len(s.v.births) {
		s.leanBorn = s.v.births[i].pos
	}
	return s
}

// Epoch returns the epoch the snapshot reads.
func (s *ArrangementSnapshot) Epoch() uint64 { return s.epoch }

// visible reports whether position pos, row r of page p, is visible at the
// snapshot's epoch.
func (s *ArrangementSnapshot) visible(pos int, p *versionPage, r int) bool {
	if p.lean() {
		return pos < s.leanBorn
	}
	return p.born[r] <= s.epoch && s.epoch < atomic.LoadUint64(&p.died[r])
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
	pos, copies := -1, int64(0) // copies of row pos still to return
	var g gatherer
	// NB: sized for the rows there are, not for a full chunk: a dashboard
	// scans a top-10 view thousands of times a second, and 8 KiB of
	// positions for its 10 rows was most of what such a query allocated.
	sel := make([]int, 0, min(coldata.DefaultChunkSize, s.Len()))
	return func() *coldata.Chunk {
		sel = sel[:0]
		for len(sel) < coldata.DefaultChunkSize {
			if copies == 0 {
				var p *versionPage
				var r int
				for pos++; pos < s.v.n; pos++ {
					if p, r = s.v.at(pos); s.visible(pos, p, r) {
						break
					}
				}
				if pos >= s.v.n {
					break
				}
				copies = 1
				if !p.lean() {
					copies = p.mult[r]
				}
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
		return g.gather(s.a.typs, &s.v, sel)
	}
}

// gatherer copies rows out of pages of versions, keeping its scratch from
// one chunk to the next.
type gatherer struct {
	rows []int
	// strs holds a packed text column's rows as strings, and ints a
	// packed integer column's values, by row of the page, for AppendSel
	// (unpackRows).
	strs []string
	ints []int64
}

// gather returns a chunk of the rows at positions sel of v, in that order,
// gathering each run of positions in one page together.
func (g *gatherer) gather(typs []*types.T, v *versions, sel []int) *coldata.Chunk {
	out := coldata.NewChunk(typs, len(sel))
	out.Len = len(sel)
	for lo := 0; lo < len(sel); {
		page := sel[lo] >> versionPageBits
		g.rows = g.rows[:0]
		for _, pos := range sel[lo:] {
			if pos>>versionPageBits != page {
				break
			}
			g.rows = append(g.rows, pos&(versionPageRows-1))
		}
		p := v.pages[page]
		for j, col := range out.Cols {
			src := p.rows.Cols[j]
			switch {
			case p.packed != nil && p.packed[j] != nil:
				src = &coldata.Vec{Typ: src.Typ, Nulls: src.Nulls, Bytes: unpackRows(&g.strs, g.rows, p.packed[j].at)}
			case p.packedInts != nil && p.packedInts[j] != nil:
				src = &coldata.Vec{Typ: src.Typ, Nulls: src.Nulls, Ints: unpackRows(&g.ints, g.rows, p.packedInts[j].at)}
			}
			col.AppendSel(src, g.rows)
		}
		lo += len(g.rows)
	}
	return out
}

// unpackRows sets (*xs)[r] to row r of a packed column, at(r), for each
// of rows, and returns *xs, made a page long at first.
func unpackRows[T any](xs *[]T, rows []int, at func(r int) T) []T {
	if *xs == nil {
		*xs = make([]T, versionPageRows)
	}
	for _, r := range rows {
		(*xs)[r] = at(r)
	}
	return *xs
}

// Lookup returns the row with the given key values (in key-column order,
// typed as the columns) as of the snapshot's epoch. Only for keyed
// arrangements. The row must not be modified.
func (s *ArrangementSnapshot) Lookup(key []types.Datum) (row []types.Datum, ok bool) {
	pos, ok := s.find(key)
	if !ok {
		return nil, false
	}
	p, r := s.v.at(pos)
	row = make([]types.Datum, len(p.rows.Cols))
	for j, col := range p.rows.Cols {
		row[j] = col.Get(r)
	}
	return row, true
}

// LookupChunk is Lookup returning the row as a chunk of one row, or nil.
func (s *ArrangementSnapshot) LookupChunk(key []types.Datum) *coldata.Chunk {
	pos, ok := s.find(key)
	if !ok {
		return nil
	}
	var g gatherer
	return g.gather(s.a.typs, &s.v, []int{pos})
}

// find returns the position of the row with the given key values visible
// at the snapshot's epoch, if any.
func (s *ArrangementSnapshot) find(key []types.Datum) (int, bool) {
	if s.a.key == nil {
		panic("Lookup on an arrangement without a key")
	}
	var buf []byte
	for i, col := range s.a.key {
		buf = types.AppendKey(buf, s.a.typs[col], key[i])
	}
	if item := s.keys.find(buf); item != nil {
		return s.version(item.val)
	}
	return -1, false
}

// version returns the position of entry's key's version visible at the
// snapshot's epoch, if any. Its pages are full: only indexed arrangements
// have entries.
func (s *ArrangementSnapshot) version(entry *keyEntry) (int, bool) {
	pos := int(entry.pos.Load())
	if pos >= s.v.n {
		// Skip the versions appended after the snapshot was taken, through
		// versions stored before pos was (publish).
		latest := s.gen.latest.Load()
		for pos >= s.v.n {
			p, r := latest.at(pos)
			pos = p.prev[r]
		}
	}
	for pos >= 0 {
		p, r := s.v.at(pos)
		if p.born[r] <= s.epoch {
			// Earlier versions died before this one was born.
			return pos, s.epoch < atomic.LoadUint64(&p.died[r])
		}
		pos = p.prev[r]
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
	var g gatherer
	// As in Scan, no more positions than the snapshot has rows.
	sel := make([]int, 0, min(coldata.DefaultChunkSize, s.Len()))
	return func() *coldata.Chunk {
		sel = sel[:0]
		for ok && len(sel) < coldata.DefaultChunkSize {
			from, ok = s.scanKeys(from, end, &sel)
		}
		if len(sel) == 0 {
			return nil
		}
		return g.gather(s.a.typs, &s.v, sel)
	}
}

// scanKeys appends to sel the visible positions of up to a chunk's worth of
// keys from from (inclusive) to end (exclusive; nil: unbounded), stopping
// after a chunk of keys visited, visible or not. It returns where to go on
// from, and false at the end.
func (s *ArrangementSnapshot) scanKeys(from, end []byte, sel *[]int) ([]byte, bool) {
	keys := s.keys.seekKey(from)
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
