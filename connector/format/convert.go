package format

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Every format decodes a record in two steps. The first walks the record's
// bytes and fills one slot per column: what kind of value was found and
// where (a span of the record) or what (an integer, a float). Nothing is
// appended yet, so a malformed record costs nothing to refuse. The second,
// commit, converts each slot to its column's type and appends it; a value
// that does not convert pops what was appended before it.
//
// Strings that a column keeps (text, json, bytea) are copied out of the
// record into one string per record, and each value is a substring of it:
// one allocation per record, and a value kept for long (a group key in a
// view) keeps at most its own record's strings alive, never a shared arena.

// slotKind says what a slot holds.
type slotKind uint8

const (
	sMissing slotKind = iota // the field is absent
	sNull                    // an explicit null

	// JSON values; a..b is the raw value (quotes included for strings).
	sJString // esc: has backslash escapes
	sJNumber // esc: has a fraction or exponent
	sJTrue
	sJFalse
	sJObject
	sJArray

	sText     // a..b: text in the record, read with the column type's text input
	sStr      // str: text not in the record (an enum symbol, a formatted value)
	sBytes    // a..b: raw bytes
	sBool     // i: 0 or 1
	sInt      // i
	sUint     // i holds the uint64's bits
	sFloat    // f
	sInstant  // i: µs since 1970-01-01 UTC (an Avro timestamp-*, a protobuf Timestamp)
	sLocalTS  // i: µs of wall-clock time since 1970-01-01 (Avro local-timestamp-*)
	sDate     // i: days since 1970-01-01
	sTime     // i: µs since midnight
	sDecimal  // a..b: big-endian two's-complement unscaled value; i: scale
	sJSONText // str: JSON text built by the decoder (an Avro map, a protobuf message)
	sDatum    // d of type dt, converted by an assignment cast
)

// slot is one column's value of the record being decoded.
type slot struct {
	kind slotKind
	esc  bool
	// utf is false for text known to be ASCII (so valid UTF-8); a JSON
	// string's scan finds out, other text is checked at commit.
	utf bool
	// whole says a JSON number is an integer of at most 18 digits, its
	// value in i (scanNumber).
	whole bool
	a, b  int
	i     int64
	f     float64
	str   string
	d     types.Datum
	dt    *types.T
}

// sinkKind is how a column stores what it receives; most kinds are fast
// paths that never box a value.
type sinkKind uint8

const (
	kBool sinkKind = iota
	kInt
	kOid
	kFloat8
	kFloat4
	kNumeric
	kText   // text, varchar without a length: any string as it is
	kString // varchar(n), char(n), name, "char": typmod applies
	kBytea
	kUUID
	kDate
	kTime
	kTimestamp
	kTimestampTZ
	kInterval
	kJSON
	kJSONB
	kOther // arrays and anything else: Datums through text input or casts
)

// epochUnit is how many µs one unit of an epoch number is.
type epochUnit int64

const (
	epochSeconds epochUnit = 1_000_000
	epochMillis  epochUnit = 1_000
	epochMicros  epochUnit = 1
)

// sink appends one column's values.
type sink struct {
	name    string
	t       *types.T
	kind    sinkKind
	notNull bool
	lo, hi  int64 // integer bounds
	// unit reads numbers into timestamp and date columns; 0 refuses them
	// (timestamp_format = 'rfc3339').
	unit epochUnit
	// epochText reads a string of digits into a timestamp column as an
	// epoch number too (an explicit epoch_* timestamp_format).
	epochText bool
	cfg       *types.Config
	// stream names the stream in a not-null violation.
	stream string
	// keepMask has bit k set if the column keeps a slot of kind k as it is
	// (see keeps).
	keepMask uint64
	// minute is the timestamp column's last minute read (timestamp).
	minute minuteCache
}

func newSink(c Column, cfg *types.Config, unit epochUnit, stream string) sink {
	s := sink{name: c.Name, t: c.Type, notNull: c.NotNull, unit: unit, cfg: cfg, stream: stream}
	t := c.Type
	switch t.Family {
	case types.BoolFamily:
		s.kind = kBool
	case types.IntFamily:
		s.kind = kInt
		switch t.Oid {
		case types.OidInt2:
			s.lo, s.hi = math.MinInt16, math.MaxInt16
		case types.OidInt4:
			s.lo, s.hi = math.MinInt32, math.MaxInt32
		default:
			s.lo, s.hi = math.MinInt64, math.MaxInt64
		}
	case types.OidFamily:
		s.kind = kOid
	case types.FloatFamily:
		s.kind = kFloat8
		if t.Oid == types.OidFloat4 {
			s.kind = kFloat4
		}
	case types.NumericFamily:
		s.kind = kNumeric
	case types.StringFamily:
		s.kind = kString
		if (t.Oid == types.OidText || t.Oid == types.OidVarchar) && t.Width <= 0 {
			s.kind = kText
		}
	case types.BytesFamily:
		s.kind = kBytea
	case types.UUIDFamily:
		s.kind = kUUID
	case types.DateFamily:
		s.kind = kDate
	case types.TimeFamily:
		s.kind = kTime
	case types.TimestampFamily:
		s.kind = kTimestamp
	case types.TimestampTZFamily:
		s.kind = kTimestampTZ
	case types.IntervalFamily:
		s.kind = kInterval
	case types.JSONFamily:
		s.kind = kJSON
		if t.Oid == types.OidJSONB {
			s.kind = kJSONB
		}
	default:
		s.kind = kOther
	}
	for k := sJString; k < keptFlag; k++ {
		if s.keeps(k) {
			s.keepMask |= 1 << k
		}
	}
	return s
}

// keeps reports whether the column keeps a slot's bytes as they are (so
// commit copies them out of the record first).
func (s *sink) keeps(k slotKind) bool {
	switch s.kind {
	case kText, kString:
		return k == sJString || k == sText || k == sJNumber || k == sBytes
	case kOther:
		return k == sJString || k == sText || k == sJNumber || k == sBytes || k == sJArray || k == sJObject
	case kJSON:
		return k == sJString || k == sJNumber || k == sJObject || k == sJArray || k == sText
	case kBytea:
		return k == sBytes
	case kUUID:
		return k == sBytes
	}
	return false
}

// committer is the per-decoder scratch of commit.
type committer struct {
	sinks []sink
	blk   []byte // the strings kept from one record, before they become one string
	tmp   []byte // one unescaped JSON string that is not kept
}

// commit appends one value per column from slots. On error it appends
// nothing (popping what it appended) and returns the column's error.
func (c *committer) commit(rec []byte, slots []slot, cols []*coldata.Vec) error {
	// Strings kept by their columns go into one string for the record.
	var kept string
	buf := c.blk[:0]
	check := false
	for i := range slots {
		sl := &slots[i]
		if c.sinks[i].keepMask&(1<<sl.kind) == 0 {
			continue
		}
		check = check || sl.utf
		off := len(buf)
		switch {
		case sl.kind == sJString && c.sinks[i].kind != kJSON:
			// The string's contents, unescaped.
			var err error
			if buf, err = appendUnescaped(buf, rec[sl.a+1:sl.b-1], sl.esc); err != nil {
				return errColumn(c.sinks[i].name, err)
			}
		default:
			buf = append(buf, rec[sl.a:sl.b]...)
		}
		sl.a, sl.b = off, len(buf)
		sl.kind |= keptFlag
	}
	if len(buf) > 0 {
		kept = string(buf)
		if check && asciiOnly(buf) {
			// Valid UTF-8 as a whole: no column validates its kept text
			// again. (A JSON string's scan knows already: check is false.)
			for i := range slots {
				if slots[i].kind&keptFlag != 0 {
					slots[i].utf = false
				}
			}
		}
	}
	c.blk = buf
	for i := range c.sinks {
		s, sl, v := &c.sinks[i], &slots[i], cols[i]
		// The commonest values are appended here, without put's two levels
		// of dispatch (a call and a switch each) per column: what they do
		// for these, anything else goes on to put.
		switch {
		case (sl.kind == sJString|keptFlag || sl.kind == sText|keptFlag) && s.kind == kText && !sl.utf:
			v.AppendString(kept[sl.a:sl.b])
			continue
		case sl.kind == sJNumber && s.kind == kInt && sl.whole:
			if sl.i >= s.lo && sl.i <= s.hi {
				v.AppendInt(sl.i)
				continue
			}
		case sl.kind == sJString && !sl.esc && (s.kind == kTimestampTZ || s.kind == kTimestamp):
			if us, ok := s.timestamp(view(rec[sl.a+1 : sl.b-1])); ok {
				v.AppendInt(us)
				continue
			}
		}
		if err := c.put(s, v, sl, rec, kept); err != nil {
			for _, v := range cols[:i] {
				pop(v)
			}
			return err
		}
	}
	return nil
}

// asciiOnly reports whether b is all ASCII, 16 bytes a step: the text of
// Avro and protobuf records is checked for valid UTF-8 once per record
// this way, instead of utf8.ValidString per column (~12 % of the CPU
// profile of decoding Avro and protobuf bids).
func asciiOnly(b []byte) bool {
	const hi = 0x8080808080808080
	for len(b) >= 16 {
		if (binary.LittleEndian.Uint64(b)|binary.LittleEndian.Uint64(b[8:]))&hi != 0 {
			return false
		}
		b = b[16:]
	}
	var x byte
	for _, c := range b {
		x |= c
	}
	return x < utf8.RuneSelf
}

// keptFlag marks a slot whose a..b now index the record's kept string.
const keptFlag slotKind = 0x80

// view returns b as a string without copying. NB: the string is valid only
// while b is unchanged; it is handed only to parsers that do not keep it
// (numbers, dates, timestamps), never stored in a column.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// put converts one slot and appends it to v.
func (c *committer) put(s *sink, v *coldata.Vec, sl *slot, rec []byte, kept string) error {
	kind := sl.kind
	if kind&keptFlag != 0 {
		kind &^= keptFlag
		str := kept[sl.a:sl.b]
		switch kind {
		case sJString:
			if s.kind == kJSON {
				return s.putJSON(v, str) // raw JSON text, quotes included
			}
			return s.textUTF(v, str, sl.utf)
		case sText:
			return s.textUTF(v, str, sl.utf)
		case sJNumber:
			if s.kind == kJSON {
				return s.putJSON(v, str)
			}
			return s.textUTF(v, str, false)
		case sJObject, sJArray:
			if s.kind == kJSON {
				return s.putJSON(v, str)
			}
			if kind == sJArray && s.t.Family == types.ArrayFamily {
				return s.jsonArray(v, str)
			}
			return s.jsonMismatch(kind, str)
		case sBytes:
			return s.bytes(v, str)
		}
		return sqlerr.Bug("kept slot of kind %d", kind)
	}
	switch kind {
	case sMissing, sNull:
		return s.null(v)
	case sJString:
		if s.kind == kJSONB {
			return s.jsonb(v, view(rec[sl.a:sl.b]))
		}
		raw := rec[sl.a+1 : sl.b-1]
		if sl.esc {
			var err error
			if c.tmp, err = appendUnescaped(c.tmp[:0], raw, true); err != nil {
				return errColumn(s.name, err)
			}
			raw = c.tmp
		}
		return s.textUTF(v, view(raw), sl.utf)
	case sJNumber:
		return s.number(v, rec[sl.a:sl.b], sl.esc)
	case sJTrue, sJFalse:
		if s.kind == kJSONB || s.kind == kJSON {
			return s.putJSON(v, boolText(kind == sJTrue))
		}
		return s.boolean(v, kind == sJTrue, true)
	case sJObject, sJArray:
		switch s.kind {
		case kJSONB:
			return s.jsonb(v, view(rec[sl.a:sl.b]))
		}
		return s.jsonMismatch(kind, view(rec[sl.a:sl.b]))
	case sText:
		return s.text(v, view(rec[sl.a:sl.b]))
	case sStr:
		return s.text(v, sl.str)
	case sBytes:
		return s.bytes(v, view(rec[sl.a:sl.b]))
	case sBool:
		return s.boolean(v, sl.i != 0, false)
	case sInt:
		return s.integer(v, sl.i)
	case sUint:
		if u := uint64(sl.i); u > math.MaxInt64 {
			d := new(apd.Decimal)
			d.Coeff.SetUint64(u)
			return s.decimal(v, d)
		}
		return s.integer(v, sl.i)
	case sFloat:
		return s.float(v, sl.f)
	case sInstant:
		return s.instant(v, sl.i)
	case sLocalTS:
		return s.localTS(v, sl.i)
	case sDate:
		return s.date(v, sl.i)
	case sTime:
		if s.kind == kTime {
			v.AppendInt(sl.i)
			return nil
		}
		return s.cast(v, sl.i, types.Time, false)
	case sDecimal:
		d, err := decimalFromTwos(rec[sl.a:sl.b], int32(sl.i))
		if err != nil {
			return errColumn(s.name, err)
		}
		return s.decimal(v, d)
	case sJSONText:
		switch s.kind {
		case kJSON:
			return s.putJSON(v, sl.str)
		case kJSONB:
			return s.jsonb(v, sl.str)
		}
		return s.text(v, sl.str)
	case sDatum:
		return s.cast(v, sl.d, sl.dt, false)
	}
	return sqlerr.Bug("slot of kind %d", kind)
}

// pop removes the last row of v.
func pop(v *coldata.Vec) {
	n := v.Len() - 1
	if n < 0 {
		return
	}
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = v.Bools[:n]
	case types.PhysInt:
		v.Ints = v.Ints[:n]
	case types.PhysFloat:
		v.Floats = v.Floats[:n]
	case types.PhysDecimal:
		v.Decs[n] = apd.Decimal{}
		v.Decs = v.Decs[:n]
	case types.PhysBytes:
		v.Bytes[n] = ""
		v.Bytes = v.Bytes[:n]
	case types.PhysInterval:
		v.Ivals = v.Ivals[:n]
	default:
		v.Datums[n] = nil
		v.Datums = v.Datums[:n]
	}
	if len(v.Nulls) > n {
		v.Nulls = v.Nulls[:n]
	}
}

// valid records a non-NULL row in v's null mask (if it has one).
func (s *sink) null(v *coldata.Vec) error {
	if s.notNull {
		if s.stream != "" {
			return sqlerr.New(sqlerr.NotNullViolation, "null value in column \"%s\" of stream \"%s\" violates not-null constraint", s.name, s.stream)
		}
		return sqlerr.New(sqlerr.NotNullViolation, "null value in column \"%s\" violates not-null constraint", s.name)
	}
	v.Append(nil)
	return nil
}

// datum appends a value in its Datum form (the slow paths).
func (s *sink) datum(v *coldata.Vec, d types.Datum) error {
	if d == nil {
		return s.null(v)
	}
	v.Append(d)
	return nil
}

// parse reads str with the column type's text input and appends it.
func (s *sink) parse(v *coldata.Vec, str string) error {
	d, err := types.ParseText(s.t, str, s.cfg)
	if err != nil {
		return errColumn(s.name, err)
	}
	return s.datum(v, d)
}

// cast converts d of type from by an assignment cast (explicit for the
// casts an INSERT would not make implicitly but a typed record implies,
// such as numeric to int) and appends it.
func (s *sink) cast(v *coldata.Vec, d types.Datum, from *types.T, explicit bool) error {
	out, err := types.CastDatum(d, from, s.t, explicit, s.cfg)
	if err != nil {
		return errColumn(s.name, err)
	}
	return s.datum(v, out)
}

// text appends str read as the column type's text input (Postgres'
// 'str'::type), with fast paths for the common types.
func (s *sink) text(v *coldata.Vec, str string) error { return s.textUTF(v, str, true) }

// textUTF is text for a string that is known to be ASCII unless utf.
func (s *sink) textUTF(v *coldata.Vec, str string, utf bool) error {
	switch s.kind {
	case kText:
		if utf && !utf8.ValidString(str) {
			return s.badUTF8(str)
		}
		v.AppendString(str)
		return nil
	case kString, kJSON, kJSONB, kOther:
		if utf && !utf8.ValidString(str) {
			return s.badUTF8(str)
		}
	case kInt:
		if x, ok := fastInt(str); ok && x >= s.lo && x <= s.hi {
			v.AppendInt(x)
			return nil
		}
	case kFloat8:
		if f, err := strconv.ParseFloat(str, 64); err == nil && f != 0 && isPlainNumber(str) {
			v.AppendFloat(f)
			return nil
		}
	case kTimestampTZ, kTimestamp:
		if us, ok := s.timestamp(str); ok {
			v.AppendInt(us)
			return nil
		}
		if s.epochText && isDigits(str) {
			return s.epoch(v, []byte(str), false)
		}
	case kDate:
		if d, ok := fastDate(str); ok {
			v.AppendInt(d)
			return nil
		}
	case kBool:
		switch str {
		case "true", "t":
			v.AppendBool(true)
			return nil
		case "false", "f":
			v.AppendBool(false)
			return nil
		}
	}
	return s.parse(v, str)
}

func (s *sink) badUTF8(str string) error {
	return errColumn(s.name, sqlerr.New(sqlerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": \"%s\"", quote([]byte(str))))
}

func (s *sink) jsonMismatch(kind slotKind, raw string) error {
	what := "object"
	if kind == sJArray {
		what = "array"
	}
	return errColumn(s.name, sqlerr.New(sqlerr.DatatypeMismatch, "a JSON %s fits only a json or jsonb column, not %s: %s", what, s.t, quote([]byte(raw))))
}

// putJSON appends raw JSON text (already valid) to a json or jsonb column.
func (s *sink) putJSON(v *coldata.Vec, raw string) error {
	if s.kind == kJSONB {
		return s.jsonb(v, raw)
	}
	if !utf8.ValidString(raw) {
		return s.badUTF8(raw)
	}
	v.AppendString(raw)
	return nil
}

// jsonb appends raw JSON text in jsonb's normal form.
func (s *sink) jsonb(v *coldata.Vec, raw string) error {
	canon, err := types.CanonicalJSONB(raw)
	if err != nil {
		return errColumn(s.name, err)
	}
	v.AppendString(canon)
	return nil
}

// jsonArray appends a JSON array to an array column: each element is read
// as the element type's text input (a string's contents, a number's or a
// boolean's text), null is a NULL element.
func (s *sink) jsonArray(v *coldata.Vec, raw string) error {
	j, err := types.ParseJSON(raw)
	if err != nil {
		return errColumn(s.name, err)
	}
	arr := &types.Array{Elem: s.t.Elem, Elems: make([]types.Datum, len(j.Elems))}
	for i, e := range j.Elems {
		var txt string
		switch e.Kind {
		case types.JSONNull:
			continue
		case types.JSONString:
			txt = e.Str
		case types.JSONNumber, types.JSONBool:
			txt = types.FormatJSONB(e)
		default:
			return errColumn(s.name, sqlerr.New(sqlerr.DatatypeMismatch, "a nested JSON %s does not fit an element of %s: %s", e.TypeName(), s.t, quote([]byte(raw))))
		}
		d, err := types.ParseText(s.t.Elem, txt, s.cfg)
		if err != nil {
			return errColumn(s.name, err)
		}
		arr.Elems[i] = d
	}
	return s.datum(v, arr)
}

// number appends a JSON number (raw, valid JSON number syntax; frac says
// it has a fraction or exponent).
func (s *sink) number(v *coldata.Vec, raw []byte, frac bool) error {
	switch s.kind {
	case kInt:
		if !frac {
			if x, ok := fastInt(view(raw)); ok && x >= s.lo && x <= s.hi {
				v.AppendInt(x)
				return nil
			}
		}
	case kFloat8, kFloat4:
		bits := 64
		if s.kind == kFloat4 {
			bits = 32
		}
		if f, err := strconv.ParseFloat(view(raw), bits); err == nil && f != 0 {
			v.AppendFloat(f)
			return nil
		}
	case kNumeric:
		if s.t.Width <= 0 {
			if coeff, exp, ok := fastDecimal(raw); ok {
				n := len(v.Decs)
				v.Decs = append(v.Decs, apd.Decimal{})
				v.Decs[n].SetFinite(coeff, exp)
				if coeff == 0 {
					v.Decs[n].Negative = false
				}
				v.NoteValid()
				return nil
			}
		}
	case kTimestamp, kTimestampTZ, kDate:
		if s.unit == 0 {
			return errColumn(s.name, sqlerr.New(sqlerr.InvalidDatetimeFormat, "a number is not a %s under timestamp_format 'rfc3339': %s", s.t, quote(raw)))
		}
		return s.epoch(v, raw, frac)
	case kJSON, kJSONB:
		return s.putJSON(v, string(raw))
	}
	return s.parse(v, view(raw))
}

// epoch appends a number of s.unit since 1970-01-01 UTC to a timestamp or
// date column.
func (s *sink) epoch(v *coldata.Vec, raw []byte, frac bool) error {
	var us int64
	ok := false
	if !frac {
		if x, good := fastInt(view(raw)); good {
			us, ok = x*int64(s.unit), x == 0 || (x*int64(s.unit))/int64(s.unit) == x
		}
	} else if f, err := strconv.ParseFloat(view(raw), 64); err == nil {
		us = int64(math.Round(f * float64(s.unit)))
		ok = math.Abs(f*float64(s.unit)) < 1<<62
	}
	if !ok || us < minTimestamp || us >= maxTimestamp {
		return errColumn(s.name, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: \"%s\"", quote(raw)))
	}
	if s.kind == kDate {
		v.AppendInt(floorDiv(us, types.MicrosPerDay))
		return nil
	}
	v.AppendInt(us)
	return nil
}

// The timestamps Sluice holds (types' timestamp input range): from
// 4714-11-24 BC, Julian day 0, to the day that is Julian day 106741034.
const (
	minTimestamp = -2440588 * types.MicrosPerDay
	maxTimestamp = (106741034 - 2440588) * types.MicrosPerDay
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// boolean appends a boolean; fromJSON says it is a JSON true/false, which
// reads into any column as the text 'true'/'false'.
func (s *sink) boolean(v *coldata.Vec, b bool, fromJSON bool) error {
	switch s.kind {
	case kBool:
		v.AppendBool(b)
		return nil
	case kText:
		v.AppendString(boolText(b))
		return nil
	}
	if fromJSON {
		return s.parse(v, boolText(b))
	}
	return s.cast(v, b, types.Bool, true)
}

// integer appends a typed integer (Avro int/long, protobuf integers).
func (s *sink) integer(v *coldata.Vec, x int64) error {
	switch s.kind {
	case kInt:
		if x < s.lo || x > s.hi {
			return errColumn(s.name, sqlerr.New(sqlerr.NumericValueOutOfRange, "value \"%d\" is out of range for type %s", x, s.t))
		}
		v.AppendInt(x)
		return nil
	case kFloat8, kFloat4:
		v.AppendFloat(float64(x))
		return nil
	case kNumeric:
		if s.t.Width <= 0 {
			n := len(v.Decs)
			v.Decs = append(v.Decs, apd.Decimal{})
			v.Decs[n].SetInt64(x)
			v.NoteValid()
			return nil
		}
	case kTimestamp, kTimestampTZ, kDate:
		if s.unit != 0 {
			return s.epoch(v, strconv.AppendInt(nil, x, 10), false)
		}
	case kText:
		v.AppendString(strconv.FormatInt(x, 10))
		return nil
	case kJSON, kJSONB:
		v.AppendString(strconv.FormatInt(x, 10))
		return nil
	case kBool:
		v.AppendBool(x != 0)
		return nil
	}
	return s.cast(v, x, types.Int8, true)
}

// float appends a typed float (Avro float/double, protobuf float/double).
func (s *sink) float(v *coldata.Vec, f float64) error {
	switch s.kind {
	case kFloat8:
		v.AppendFloat(f)
		return nil
	case kFloat4:
		if math.IsInf(float64(float32(f)), 0) && !math.IsInf(f, 0) {
			return errColumn(s.name, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: overflow"))
		}
		v.AppendFloat(float64(float32(f)))
		return nil
	case kTimestamp, kTimestampTZ, kDate:
		if s.unit != 0 {
			return s.epoch(v, strconv.AppendFloat(nil, f, 'f', -1, 64), true)
		}
	case kJSON, kJSONB:
		if math.IsNaN(f) || math.IsInf(f, 0) {
			break
		}
		return s.putJSON(v, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return s.cast(v, f, types.Float8, true)
}

// decimal appends an exact decimal (an Avro decimal).
func (s *sink) decimal(v *coldata.Vec, d *apd.Decimal) error {
	if s.kind == kNumeric && s.t.Width <= 0 {
		n := len(v.Decs)
		v.Decs = append(v.Decs, apd.Decimal{})
		v.Decs[n].Set(d)
		v.NoteValid()
		return nil
	}
	return s.cast(v, d, types.Numeric, true)
}

// instant appends a point in time (µs since the epoch, UTC).
func (s *sink) instant(v *coldata.Vec, us int64) error {
	switch s.kind {
	case kTimestampTZ, kTimestamp:
		// A timestamp without time zone gets the UTC wall clock.
		v.AppendInt(us)
		return nil
	case kDate:
		v.AppendInt(floorDiv(us, types.MicrosPerDay))
		return nil
	}
	return s.cast(v, us, types.TimestampTZ, true)
}

// localTS appends a wall-clock timestamp (µs).
func (s *sink) localTS(v *coldata.Vec, us int64) error {
	if s.kind == kTimestamp {
		v.AppendInt(us)
		return nil
	}
	return s.cast(v, us, types.Timestamp, true)
}

// date appends days since the epoch.
func (s *sink) date(v *coldata.Vec, days int64) error {
	switch s.kind {
	case kDate:
		v.AppendInt(days)
		return nil
	case kTimestamp:
		v.AppendInt(days * types.MicrosPerDay)
		return nil
	}
	return s.cast(v, days, types.Date, true)
}

// bytes appends raw bytes (Avro bytes/fixed, protobuf bytes).
func (s *sink) bytes(v *coldata.Vec, b string) error {
	switch s.kind {
	case kBytea:
		v.AppendString(b)
		return nil
	case kUUID:
		if len(b) == 16 {
			v.AppendString(b)
			return nil
		}
	}
	return s.text(v, b)
}

// fastInt parses an optional '-' and 1 to 18 decimal digits; anything else
// (spaces, '+', underscores, hex, 19+ digits) is left to the text input.
func fastInt(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var x int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		x = x*10 + int64(c)
	}
	if neg {
		x = -x
	}
	return x, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isPlainNumber reports whether s is a decimal number Go and Postgres read
// alike (no spaces, underscores, hex, "inf").
func isPlainNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

// fastDecimal reads a JSON number with at most 18 significant digits and no
// exponent as coefficient and exponent.
func fastDecimal(raw []byte) (int64, int32, bool) {
	neg := false
	i := 0
	if len(raw) > 0 && raw[0] == '-' {
		neg, i = true, 1
	}
	var coeff int64
	var exp int32
	digits, dot := 0, false
	for ; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 18 {
				return 0, 0, false
			}
			coeff = coeff*10 + int64(c-'0')
			if coeff != 0 {
				digits++
			}
			if dot {
				exp--
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, 0, false
		}
	}
	if neg {
		coeff = -coeff
	}
	return coeff, exp, true
}

// decimalFromTwos reads a big-endian two's-complement unscaled value.
func decimalFromTwos(b []byte, scale int32) (*apd.Decimal, error) {
	d := new(apd.Decimal)
	if len(b) == 0 {
		return d.SetFinite(0, -scale), nil
	}
	neg := b[0]&0x80 != 0
	mag := b
	if neg {
		// Magnitude of a negative two's-complement number: invert, add one.
		mag = make([]byte, len(b))
		carry := byte(1)
		for i := len(b) - 1; i >= 0; i-- {
			x := ^b[i]
			mag[i] = x + carry
			if carry == 1 && mag[i] != 0 {
				carry = 0
			}
		}
	}
	d.Coeff.SetBytes(mag)
	d.Exponent = -scale
	d.Negative = neg && d.Coeff.Sign() != 0
	return d, nil
}

// fastTimestamp parses the RFC 3339 form "YYYY-MM-DD[T ]hh:mm:ss[.ffffff]"
// followed by Z or ±hh[:mm] (a timestamptz needs the zone; a timestamp
// ignores it, as Postgres' timestamp input does). Anything else is left to
// the text input.
func fastTimestamp(s string, tz bool) (int64, bool) {
	minute, ok := minuteOf(s)
	if !ok {
		return 0, false
	}
	return fromMinute(s, tz, minute)
}

// minuteOf reads the first 16 bytes of fastTimestamp's form,
// "YYYY-MM-DD[T ]hh:mm", as µs since 1970-01-01 (s has 19 bytes at least).
func minuteOf(s string) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	mi, ok5 := digits(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || y == 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 {
		return 0, false
	}
	return types.DaysFromCivil(y, mo, d)*types.MicrosPerDay + h*types.MicrosPerHour + mi*types.MicrosPerMinute, true
}

// fromMinute reads the rest of fastTimestamp's form, from byte 16 on
// (":ss[.ffffff]" and the zone), minute being what minuteOf read.
func fromMinute(s string, tz bool, minute int64) (int64, bool) {
	if s[16] != ':' {
		return 0, false
	}
	sec, ok := digits(s[17:19])
	if !ok || sec > 59 {
		return 0, false
	}
	i := 19
	var frac int64
	if i < len(s) && s[i] == '.' {
		i++
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n == 6 {
				return 0, false // Postgres rounds past µs: let it
			}
			frac = frac*10 + int64(s[i]-'0')
			n++
			i++
		}
		if n == 0 {
			return 0, false
		}
		for ; n < 6; n++ {
			frac *= 10
		}
	}
	var off int64
	switch {
	case i == len(s):
		if tz {
			return 0, false // the session time zone applies
		}
	case s[i] == 'Z' || s[i] == 'z':
		if i+1 != len(s) {
			return 0, false
		}
	case s[i] == '+' || s[i] == '-':
		rest := s[i+1:]
		var oh, om int64
		var ok bool
		switch len(rest) {
		case 2:
			oh, ok = digits(rest)
		case 4:
			var ok2 bool
			oh, ok = digits(rest[:2])
			om, ok2 = digits(rest[2:])
			ok = ok && ok2
		case 5:
			var ok2 bool
			oh, ok = digits(rest[:2])
			om, ok2 = digits(rest[3:])
			ok = ok && ok2 && rest[2] == ':'
		}
		if !ok || oh > 15 || om > 59 {
			return 0, false
		}
		off = (oh*60 + om) * 60
		if s[i] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	us := minute + sec*types.MicrosPerSecond + frac
	if tz {
		us -= off * types.MicrosPerSecond
	}
	return us, true
}

// minuteCache holds minuteOf's reading of the last timestamp a column
// read: a stream's timestamps mostly share their minute with the one
// before, and reading the date and the time to the minute was about half
// of fastTimestamp's time.
type minuteCache struct {
	key [16]byte
	us  int64
	ok  bool
}

// timestamp is fastTimestamp for the column's type, reusing the minute of
// the timestamp before when s is in the same one.
func (s *sink) timestamp(str string) (int64, bool) {
	if len(str) < 19 {
		return 0, false
	}
	if !s.minute.ok || str[:16] != string(s.minute.key[:]) {
		us, ok := minuteOf(str)
		if !ok {
			return 0, false
		}
		copy(s.minute.key[:], str)
		s.minute.us, s.minute.ok = us, true
	}
	return fromMinute(str, s.kind == kTimestampTZ, s.minute.us)
}

// fastDate parses "YYYY-MM-DD".
func fastDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !(ok1 && ok2 && ok3) || y == 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, false
	}
	return types.DaysFromCivil(y, mo, d), true
}

func digits(s string) (int64, bool) {
	var x int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		x = x*10 + int64(c)
	}
	return x, true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
