package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// rowFormatV1 is the first byte of every row value.
//
//	version u8 | ncols uvarint | null bitmap ceil(ncols/8) bytes (bit i = col i NULL) | values of non-NULL columns
//
// Values are typed by the table schema, not self-describing; see
// docs/format/storage.md for the per-type forms. A row with fewer columns than
// the schema (written before an ADD COLUMN) decodes with NULLs at the end.
const rowFormatV1 byte = 1

// rowFormatRun is the first byte of a value that holds a run of rows with
// consecutive rowIDs, from its key's on, column by column:
//
//	version u8 | nrows uvarint | ncols uvarint | per column: nulls u8 (0: none, 1: bitmap follows) | [null bitmap ceil(nrows/8) bytes] | values of its non-NULL rows
//
// Values are in their row format v1 encoding. A large insert is written as
// runs: one Pebble key per runRows rows instead of one per row, so the
// batch, the WAL and the memtable of a COPY are about half the bytes and a
// thousandth of the records.
const rowFormatRun byte = 2

// runRows is the most rows a run holds (and a corrupt run is refused past
// it, so that hostile bytes cannot make load allocate without bound). A
// variable so that tests can write runs of a few rows (testdata/runs).
var runRows = 1024

// encodeRow appends the encoding of row i of cols to buf.
func encodeRow(buf []byte, cols []*coldata.Vec, i int) ([]byte, error) {
	buf = append(buf, rowFormatV1)
	buf = binary.AppendUvarint(buf, uint64(len(cols)))
	bm := len(buf)
	for range (len(cols) + 7) / 8 {
		buf = append(buf, 0)
	}
	var err error
	for c, v := range cols {
		if v.IsNull(i) {
			buf[bm+c/8] |= 1 << (c % 8)
			continue
		}
		if buf, err = appendValues(buf, v, i, i+1, nil); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// appendValues appends the encodings of rows [lo, hi) of v but those that
// nulls (nil, or rows lo.. of a null mask) marks NULL, one loop per type.
func appendValues(buf []byte, v *coldata.Vec, lo, hi int, nulls []bool) ([]byte, error) {
	live := func(i int) bool { return nulls == nil || !nulls[i-lo] }
	switch v.Typ.Phys() {
	case types.PhysBool:
		for i, x := range v.Bools[lo:hi] {
			if live(lo + i) {
				b := byte(0)
				if x {
					b = 1
				}
				buf = append(buf, b)
			}
		}
	case types.PhysInt:
		for i, x := range v.Ints[lo:hi] {
			if live(lo + i) {
				buf = binary.AppendVarint(buf, x)
			}
		}
	case types.PhysFloat:
		for i, x := range v.Floats[lo:hi] {
			if live(lo + i) {
				buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(x))
			}
		}
	case types.PhysDecimal:
		for i := lo; i < hi; i++ {
			if live(i) {
				buf = appendString(buf, v.Decs[i].String())
			}
		}
	case types.PhysBytes:
		for i, x := range v.Bytes[lo:hi] {
			if live(lo + i) {
				buf = appendString(buf, x)
			}
		}
	case types.PhysInterval:
		for i, x := range v.Ivals[lo:hi] {
			if live(lo + i) {
				buf = appendInterval(buf, x)
			}
		}
	default:
		var err error
		for i := lo; i < hi; i++ {
			if live(i) {
				if buf, err = appendDatum(buf, v.Typ, v.Datums[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return buf, nil
}

// runValues calls fn with the values n new rows with consecutive rowIDs
// are written as, in order: rows [lo, lo+k) of them, a run when k > 1 and a
// plain row value when k == 1.
func runValues(n int, fn func(lo, k int) error) error {
	for lo := 0; lo < n; lo += runRows {
		if err := fn(lo, min(runRows, n-lo)); err != nil {
			return err
		}
	}
	return nil
}

// encodeRun appends the run encoding of rows [lo, lo+n) of cols to buf.
func encodeRun(buf []byte, cols []*coldata.Vec, lo, n int) ([]byte, error) {
	buf = append(buf, rowFormatRun)
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.AppendUvarint(buf, uint64(len(cols)))
	hi := lo + n
	for _, v := range cols {
		var nulls []bool
		if v.Nulls != nil && slices.Contains(v.Nulls[lo:hi], true) {
			nulls = v.Nulls[lo:hi]
			buf = append(buf, 1)
			bm := len(buf)
			buf = append(buf, make([]byte, (n+7)/8)...)
			for i, null := range nulls {
				if null {
					buf[bm+i/8] |= 1 << (i % 8)
				}
			}
		} else {
			buf = append(buf, 0)
		}
		var err error
		if buf, err = appendValues(buf, v, lo, hi, nulls); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// encodedSize returns the total size of encodeRow's encodings of the first
// n rows of cols, but those marked in dead (nil: none), computed column by
// column. It is a size hint: values of types it does not size (numerics,
// boxed values) count a guess.
func encodedSize(cols []*coldata.Vec, n int, dead []bool) int {
	live := n
	for _, d := range dead {
		if d {
			live--
		}
	}
	isLive := func(i int) bool { return dead == nil || !dead[i] }
	size := live * (1 + uvarintLen(uint64(len(cols))) + (len(cols)+7)/8)
	for _, v := range cols {
		switch v.Typ.Phys() {
		case types.PhysBool:
			size += live
		case types.PhysInt:
			for i, x := range v.Ints[:n] {
				if isLive(i) {
					size += varintLen(x)
				}
			}
		case types.PhysFloat:
			size += 8 * live
		case types.PhysBytes:
			for i, x := range v.Bytes[:n] {
				if isLive(i) {
					size += uvarintLen(uint64(len(x))) + len(x)
				}
			}
		default:
			size += 16 * live
		}
	}
	return size
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// varintLen is the length of binary.AppendVarint's zig-zag encoding.
func varintLen(x int64) int { return uvarintLen(uint64(x<<1) ^ uint64(x>>63)) }

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendInterval(buf []byte, x types.IntervalValue) []byte {
	buf = binary.AppendVarint(buf, int64(x.Months))
	buf = binary.AppendVarint(buf, int64(x.Days))
	return binary.AppendVarint(buf, x.Micros)
}

// appendDatum encodes a boxed, non-NULL value of type t (array elements and
// PhysDatum columns).
func appendDatum(buf []byte, t *types.T, d types.Datum) ([]byte, error) {
	switch x := d.(type) {
	case bool:
		if x {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case int64:
		return binary.AppendVarint(buf, x), nil
	case float64:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(x)), nil
	case *apd.Decimal:
		return appendString(buf, x.String()), nil
	case string:
		return appendString(buf, x), nil
	case types.IntervalValue:
		return appendInterval(buf, x), nil
	case *types.Array:
		if t.Family != types.ArrayFamily || t.Elem == nil {
			return nil, sqlerr.Bug("storage: array value for non-array type %s", t)
		}
		buf = binary.AppendUvarint(buf, uint64(len(x.Elems)))
		var err error
		for _, e := range x.Elems {
			if e == nil {
				buf = append(buf, 0)
				continue
			}
			buf = append(buf, 1)
			if buf, err = appendDatum(buf, t.Elem, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	return nil, sqlerr.Bug("storage: cannot encode %T as %s", d, t)
}

// rowDecoder reads one encoded value; every read is bounds-checked so that
// corrupt bytes give an error, never a panic.
type rowDecoder struct {
	b   []byte
	err error
}

func (r *rowDecoder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *rowDecoder) byte1() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *rowDecoder) bool1() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad bool")
	return false
}

func (r *rowDecoder) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *rowDecoder) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *rowDecoder) int32v() int32 {
	x := r.varint()
	if x < math.MinInt32 || x > math.MaxInt32 {
		r.fail("int32 out of range")
	}
	return int32(x)
}

func (r *rowDecoder) float() float64 {
	if len(r.b) < 8 {
		r.fail("truncated float")
		return 0
	}
	x := math.Float64frombits(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return x
}

func (r *rowDecoder) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *rowDecoder) decimal(d *apd.Decimal) {
	s := r.str()
	if r.err != nil {
		return
	}
	if _, _, err := d.SetString(s); err != nil {
		r.fail("bad numeric %q", s)
	}
}

func (r *rowDecoder) interval() types.IntervalValue {
	return types.IntervalValue{Months: r.int32v(), Days: r.int32v(), Micros: r.varint()}
}

// datum decodes a boxed value of type t, with nesting depth limited so that
// hostile bytes cannot recurse without bound.
func (r *rowDecoder) datum(t *types.T, depth int) types.Datum {
	if depth > 8 {
		r.fail("array nesting too deep")
		return nil
	}
	switch t.Phys() {
	case types.PhysBool:
		return r.bool1()
	case types.PhysInt:
		return r.varint()
	case types.PhysFloat:
		return r.float()
	case types.PhysDecimal:
		d := new(apd.Decimal)
		r.decimal(d)
		return d
	case types.PhysBytes:
		return r.str()
	case types.PhysInterval:
		return r.interval()
	}
	if t.Family != types.ArrayFamily || t.Elem == nil {
		return r.str() // unknown-typed values are stored as their text
	}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // every element takes >= 1 byte
		r.fail("bad array length")
		return nil
	}
	a := &types.Array{Elem: t.Elem, Elems: make([]types.Datum, n)}
	for i := range a.Elems {
		if r.byte1() == 1 {
			a.Elems[i] = r.datum(t.Elem, depth+1)
		}
		if r.err != nil {
			return nil
		}
	}
	return a
}

// decodeInto appends the rows of a value (one row, or a run) to cols and
// returns how many. On error the vectors may hold partial rows; callers
// discard them.
func decodeInto(b []byte, cols []*coldata.Vec) (int, error) {
	if len(b) > 0 && b[0] == rowFormatRun {
		return decodeRunInto(b, cols)
	}
	return 1, decodeRowInto(b, cols)
}

// valueRows returns how many rows a value (one row, or a run) holds,
// reading only its header: the rest is checked when it is decoded.
func valueRows(b []byte) (int, error) {
	switch {
	case len(b) == 0:
		return 0, fmt.Errorf("empty value")
	case b[0] == rowFormatV1:
		return 1, nil
	case b[0] != rowFormatRun:
		return 0, fmt.Errorf("unknown row format version %d", b[0])
	}
	r := rowDecoder{b: b[1:]}
	n := r.uvarint()
	if r.err != nil {
		return 0, r.err
	}
	if n == 0 || n > uint64(runRows) {
		return 0, fmt.Errorf("run of %d rows", n)
	}
	return int(n), nil
}

// decodeRunInto appends the rows of the run encoded in b to cols.
func decodeRunInto(b []byte, cols []*coldata.Vec) (int, error) {
	r := rowDecoder{b: b[1:]}
	n, nc := r.uvarint(), r.uvarint()
	if r.err != nil {
		return 0, r.err
	}
	if n == 0 || n > uint64(runRows) {
		return 0, fmt.Errorf("run of %d rows", n)
	}
	if nc > uint64(len(cols)) {
		return 0, fmt.Errorf("run has %d columns, table has %d", nc, len(cols))
	}
	rows := int(n)
	for c, v := range cols {
		var bm []byte
		if c < int(nc) {
			switch r.byte1() {
			case 0:
			case 1:
				if len(r.b) < (rows+7)/8 {
					return 0, fmt.Errorf("truncated null bitmap")
				}
				bm, r.b = r.b[:(rows+7)/8], r.b[(rows+7)/8:]
			default:
				r.fail("bad null marker")
			}
		}
		for i := range rows {
			if c >= int(nc) || bm != nil && bm[i/8]&(1<<(i%8)) != 0 {
				v.Append(nil)
				continue
			}
			r.value(v)
			if r.err != nil {
				return 0, r.err
			}
		}
		if r.err != nil {
			return 0, r.err
		}
	}
	if len(r.b) != 0 {
		return 0, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return rows, nil
}

// value appends one non-NULL value read from r to v.
func (r *rowDecoder) value(v *coldata.Vec) {
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = append(v.Bools, r.bool1())
	case types.PhysInt:
		v.Ints = append(v.Ints, r.varint())
	case types.PhysFloat:
		v.Floats = append(v.Floats, r.float())
	case types.PhysDecimal:
		v.Decs = append(v.Decs, apd.Decimal{})
		r.decimal(&v.Decs[len(v.Decs)-1])
	case types.PhysBytes:
		v.Bytes = append(v.Bytes, r.str())
	case types.PhysInterval:
		v.Ivals = append(v.Ivals, r.interval())
	default:
		v.Datums = append(v.Datums, r.datum(v.Typ, 0))
	}
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
}

// decodeRowInto appends the row encoded in b to cols. On error the vectors
// may hold a partial row; callers discard them.
func decodeRowInto(b []byte, cols []*coldata.Vec) error {
	r := rowDecoder{b: b}
	if v := r.byte1(); r.err == nil && v != rowFormatV1 {
		return fmt.Errorf("unknown row format version %d", v)
	}
	n := r.uvarint()
	if r.err != nil {
		return r.err
	}
	if n > uint64(len(cols)) {
		return fmt.Errorf("row has %d columns, table has %d", n, len(cols))
	}
	nb := (int(n) + 7) / 8
	if len(r.b) < nb {
		return fmt.Errorf("truncated null bitmap")
	}
	bm := r.b[:nb]
	r.b = r.b[nb:]
	for c, v := range cols {
		if c >= int(n) || bm[c/8]&(1<<(c%8)) != 0 {
			v.Append(nil)
			continue
		}
		r.value(v)
		if r.err != nil {
			return r.err
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return nil
}
