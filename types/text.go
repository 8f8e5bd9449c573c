package types

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/cockroachdb/apd/v3"
	"github.com/sluice-db/sluice/sqlerr"
)

// AppendText appends the Postgres text output of d (of type t) to buf, as
// Postgres prints it with the DateStyle and IntervalStyle of cfg. A nil
// d appends nothing (the caller decides how NULL is shown).
func AppendText(buf []byte, t *T, d Datum, cfg *Config) []byte {
	if d == nil {
		return buf
	}
	if cfg == nil {
		cfg = DefaultConfig()
	}
	switch t.Family {
	case BoolFamily:
		if d.(bool) {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		return AppendTextInt(buf, t, d.(int64), cfg)
	case FloatFamily:
		return appendFloat(buf, d.(float64), t.Oid == OidFloat4, cfg.ExtraFloatDigits)
	case NumericFamily:
		return appendNumeric(buf, d.(*apd.Decimal))
	case StringFamily, JSONFamily, BytesFamily, UUIDFamily:
		return AppendTextString(buf, t, d.(string))
	case IntervalFamily:
		return appendIntervalStyle(buf, d.(IntervalValue), cfg.IntervalStyle)
	case ArrayFamily:
		if t.IsVector() {
			return appendVector(buf, d.(*Array))
		}
		return appendArray(buf, t, d.(*Array), cfg)
	case RecordFamily:
		return appendRecord(buf, t, d.(*Array), cfg)
	case UnknownFamily:
		if s, ok := d.(string); ok {
			return append(buf, s...)
		}
	}
	return buf
}

// AppendTextInt is AppendText of x, a value of t whose physical form is
// int64 (PhysInt), without boxing it as a Datum: a row of a result written
// in text format allocated once per such value (a timestamptz column).
func AppendTextInt(buf []byte, t *T, x int64, cfg *Config) []byte {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	switch t.Family {
	case IntFamily:
		return strconv.AppendInt(buf, x, 10)
	case OidFamily:
		return appendReg(buf, t, uint32(x), cfg)
	case DateFamily:
		return appendDate(buf, x, cfg.dateStyle())
	case TimeFamily:
		return appendTimeOfDay(buf, x)
	case TimestampFamily:
		return appendTimestamp(buf, x, nil, cfg.dateStyle())
	case TimestampTZFamily:
		loc := cfg.Location
		if loc == nil {
			loc = DefaultConfig().Location
		}
		return appendTimestamp(buf, x, loc, cfg.dateStyle())
	}
	return buf
}

// AppendTextString is AppendText of s, a value of t whose physical form is
// a string (PhysBytes), without boxing it as a Datum.
func AppendTextString(buf []byte, t *T, s string) []byte {
	switch t.Family {
	case StringFamily, JSONFamily:
		return append(buf, s...)
	case BytesFamily:
		buf = append(buf, '\\', 'x')
		return hex.AppendEncode(buf, []byte(s))
	case UUIDFamily:
		return appendUUID(buf, s)
	}
	return buf
}

// FormatText returns the Postgres text output of d ("" for NULL).
func FormatText(t *T, d Datum, cfg *Config) string {
	return string(AppendText(nil, t, d, cfg))
}

func appendFloat(buf []byte, f float64, f4 bool, efd int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	bits := 64
	if f4 {
		bits = 32
	}
	if efd > 0 {
		// Shortest exact output (Ryu), fixed notation for -4 <= exp < 15 (6 for float4).
		e := strconv.FormatFloat(f, 'e', -1, bits)
		ei := strings.IndexByte(e, 'e')
		exp, _ := strconv.Atoi(e[ei+1:])
		limit := 15
		if f4 {
			limit = 6
		}
		if exp >= -4 && exp < limit {
			return strconv.AppendFloat(buf, f, 'f', -1, bits)
		}
		return append(buf, e...)
	}
	prec := 15 + efd
	if f4 {
		prec = 6 + efd
	}
	if prec < 1 {
		prec = 1
	}
	return strconv.AppendFloat(buf, f, 'g', prec, 64)
}

func appendNumeric(buf []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(buf, "NaN"...)
	case apd.Infinite:
		if d.Negative {
			return append(buf, "-Infinity"...)
		}
		return append(buf, "Infinity"...)
	}
	if d.Exponent > 0 {
		var c apd.Decimal
		c.Set(d)
		c.Negative = false
		_, _ = apd.BaseContext.WithPrecision(1000).Quantize(&c, &c, 0)
		c.Negative = d.Negative
		d = &c
	}
	if d.Negative && d.Coeff.Sign() == 0 {
		var c apd.Decimal
		c.Set(d)
		c.Negative = false
		d = &c
	}
	return append(buf, d.Text('f')...)
}

func appendUUID(buf []byte, s string) []byte {
	if len(s) != 16 {
		return hex.AppendEncode(buf, []byte(s))
	}
	b := []byte(s)
	buf = hex.AppendEncode(buf, b[0:4])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, b[4:6])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, b[6:8])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, b[8:10])
	buf = append(buf, '-')
	return hex.AppendEncode(buf, b[10:16])
}

// intervalFields splits an interval as Postgres' interval2itm does: each
// field keeps the sign of the part (months, days, micros) it comes from.
type intervalFields struct {
	year, mon, mday, hour, min, sec, fsec int64
}

func splitInterval(iv IntervalValue) intervalFields {
	f := intervalFields{year: int64(iv.Months / 12), mon: int64(iv.Months % 12), mday: int64(iv.Days)}
	us := iv.Micros
	f.hour = us / MicrosPerHour
	us -= f.hour * MicrosPerHour
	f.min = us / MicrosPerMinute
	us -= f.min * MicrosPerMinute
	f.sec = us / MicrosPerSecond
	f.fsec = us - f.sec*MicrosPerSecond
	return f
}

// appendIntervalStyle appends iv as Postgres' EncodeInterval prints it in
// the given IntervalStyle.
func appendIntervalStyle(buf []byte, iv IntervalValue, st IntervalStyle) []byte {
	switch st {
	case IntervalPostgresVerbose:
		return appendIntervalVerbose(buf, splitInterval(iv))
	case IntervalSQLStandard:
		return appendIntervalSQLStandard(buf, splitInterval(iv))
	case IntervalISO8601:
		return appendIntervalISO(buf, splitInterval(iv))
	}
	return appendIntervalPostgres(buf, splitInterval(iv))
}

// appendSeconds appends |sec| (two digits when pad) and the fraction.
func appendSeconds(buf []byte, sec, fsec int64, pad bool) []byte {
	if pad {
		buf = append2(buf, uabs(sec))
	} else {
		buf = strconv.AppendUint(buf, uabs(sec), 10)
	}
	return appendFraction(buf, uabs(fsec))
}

func appendIntervalVerbose(buf []byte, f intervalFields) []byte {
	buf = append(buf, '@')
	isZero, isBefore := true, false
	add := func(v int64, unit string) {
		if v == 0 {
			return
		}
		// The first nonzero field decides "ago"; later ones print
		// relative to it.
		if isZero {
			isBefore = v < 0
			if v < 0 {
				v = -v
			}
		} else if isBefore {
			v = -v
		}
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, v, 10)
		buf = append(buf, ' ')
		buf = append(buf, unit...)
		if v != 1 {
			buf = append(buf, 's')
		}
		isZero = false
	}
	add(f.year, "year")
	add(f.mon, "mon")
	add(f.mday, "day")
	add(f.hour, "hour")
	add(f.min, "min")
	if f.sec != 0 || f.fsec != 0 {
		buf = append(buf, ' ')
		if f.sec < 0 || (f.sec == 0 && f.fsec < 0) {
			if isZero {
				isBefore = true
			} else if !isBefore {
				buf = append(buf, '-')
			}
		} else if isBefore {
			buf = append(buf, '-')
		}
		buf = appendSeconds(buf, f.sec, f.fsec, false)
		buf = append(buf, " sec"...)
		if uabs(f.sec) != 1 || f.fsec != 0 {
			buf = append(buf, 's')
		}
		isZero = false
	}
	if isZero {
		buf = append(buf, " 0"...)
	}
	if isBefore {
		buf = append(buf, " ago"...)
	}
	return buf
}

func appendIntervalSQLStandard(buf []byte, f intervalFields) []byte {
	neg := f.year < 0 || f.mon < 0 || f.mday < 0 || f.hour < 0 || f.min < 0 || f.sec < 0 || f.fsec < 0
	pos := f.year > 0 || f.mon > 0 || f.mday > 0 || f.hour > 0 || f.min > 0 || f.sec > 0 || f.fsec > 0
	yearMonth := f.year != 0 || f.mon != 0
	dayTime := f.mday != 0 || f.hour != 0 || f.min != 0 || f.sec != 0 || f.fsec != 0
	// A value SQL can write has one sign and either year-month or
	// day-time fields; others print every sign, to be read back exactly.
	standard := !(neg && pos) && !(yearMonth && dayTime)
	if neg && standard {
		buf = append(buf, '-')
		f = intervalFields{-f.year, -f.mon, -f.mday, -f.hour, -f.min, -f.sec, -f.fsec}
	}
	sign := func(negative bool) byte {
		if negative {
			return '-'
		}
		return '+'
	}
	hms := func(buf []byte) []byte {
		buf = strconv.AppendUint(buf, uabs(f.hour), 10)
		buf = append(buf, ':')
		buf = append2(buf, uabs(f.min))
		buf = append(buf, ':')
		return appendSeconds(buf, f.sec, f.fsec, true)
	}
	switch {
	case !neg && !pos:
		return append(buf, '0')
	case !standard:
		buf = append(buf, sign(f.year < 0 || f.mon < 0))
		buf = strconv.AppendUint(buf, uabs(f.year), 10)
		buf = append(buf, '-')
		buf = strconv.AppendUint(buf, uabs(f.mon), 10)
		buf = append(buf, ' ', sign(f.mday < 0))
		buf = strconv.AppendUint(buf, uabs(f.mday), 10)
		buf = append(buf, ' ', sign(f.hour < 0 || f.min < 0 || f.sec < 0 || f.fsec < 0))
		return hms(buf)
	case yearMonth:
		buf = strconv.AppendInt(buf, f.year, 10)
		buf = append(buf, '-')
		return strconv.AppendInt(buf, f.mon, 10)
	case f.mday != 0:
		buf = strconv.AppendInt(buf, f.mday, 10)
		buf = append(buf, ' ')
		return hms(buf)
	}
	return hms(buf)
}

func appendIntervalISO(buf []byte, f intervalFields) []byte {
	if f == (intervalFields{}) {
		return append(buf, "PT0S"...)
	}
	part := func(v int64, unit byte) {
		if v != 0 {
			buf = strconv.AppendInt(buf, v, 10)
			buf = append(buf, unit)
		}
	}
	buf = append(buf, 'P')
	part(f.year, 'Y')
	part(f.mon, 'M')
	part(f.mday, 'D')
	if f.hour != 0 || f.min != 0 || f.sec != 0 || f.fsec != 0 {
		buf = append(buf, 'T')
	}
	part(f.hour, 'H')
	part(f.min, 'M')
	if f.sec != 0 || f.fsec != 0 {
		if f.sec < 0 || f.fsec < 0 {
			buf = append(buf, '-')
		}
		buf = appendSeconds(buf, f.sec, f.fsec, false)
		buf = append(buf, 'S')
	}
	return buf
}

// appendIntervalPostgres appends f in IntervalStyle postgres, the default.
func appendIntervalPostgres(buf []byte, f intervalFields) []byte {
	isZero, isBefore := true, false
	add := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			buf = append(buf, ' ')
		}
		if isBefore && v > 0 {
			buf = append(buf, '+')
		}
		buf = strconv.AppendInt(buf, v, 10)
		buf = append(buf, ' ')
		buf = append(buf, unit...)
		if v != 1 {
			buf = append(buf, 's')
		}
		isBefore = v < 0
		isZero = false
	}
	add(f.year, "year")
	add(f.mon, "mon")
	add(f.mday, "day")
	if isZero || f.hour != 0 || f.min != 0 || f.sec != 0 || f.fsec != 0 {
		minus := f.hour < 0 || f.min < 0 || f.sec < 0 || f.fsec < 0
		if !isZero {
			buf = append(buf, ' ')
		}
		if minus {
			buf = append(buf, '-')
		} else if isBefore {
			buf = append(buf, '+')
		}
		buf = append2(buf, uabs(f.hour))
		buf = append(buf, ':')
		buf = append2(buf, uabs(f.min))
		buf = append(buf, ':')
		buf = append2(buf, uabs(f.sec))
		buf = appendFraction(buf, uabs(f.fsec))
	}
	return buf
}

func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// append2 appends v with at least two digits.
func append2(buf []byte, v uint64) []byte {
	if v < 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendUint(buf, v, 10)
}

// appendFraction appends ".ffffff" with trailing zeros removed (nothing for 0).
func appendFraction(buf []byte, us uint64) []byte {
	if us == 0 {
		return buf
	}
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	n := 6
	for n > 0 && d[n-1] == '0' {
		n--
	}
	buf = append(buf, '.')
	return append(buf, d[:n]...)
}

func appendArray(buf []byte, t *T, a *Array, cfg *Config) []byte {
	elem := a.Elem
	if elem == nil {
		elem = t.Elem
	}
	buf = append(buf, '{')
	var tmp []byte
	for i, e := range a.Elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		if e == nil {
			buf = append(buf, "NULL"...)
			continue
		}
		tmp = AppendText(tmp[:0], elem, e, cfg)
		if elem.Family == ArrayFamily {
			buf = append(buf, tmp...)
			continue
		}
		buf = appendArrayElem(buf, tmp)
	}
	return append(buf, '}')
}

func appendArrayElem(buf, s []byte) []byte {
	quote := len(s) == 0 || (len(s) == 4 && strings.EqualFold(string(s), "null"))
	if !quote {
		for _, c := range s {
			switch c {
			case '"', '\\', '{', '}', ',', ' ', '\t', '\n', '\r', '\v', '\f':
				quote = true
			}
			if quote {
				break
			}
		}
	}
	if !quote {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, c)
	}
	return append(buf, '"')
}

// ParseText parses s, the Postgres text input form of a value of type t.
// Typmods (varchar(n), char(n), numeric(p,s)) are applied as Postgres' input
// functions apply them.
func ParseText(t *T, s string, cfg *Config) (Datum, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	switch t.Family {
	case BoolFamily:
		return parseBool(s)
	case IntFamily:
		return parseInt(t, s)
	case OidFamily:
		if t.IsReg() {
			return parseReg(t, s, cfg)
		}
		return parseOid(t, s)
	case FloatFamily:
		return parseFloat(t, s)
	case NumericFamily:
		v, err := parseNumericInput(s)
		if err != nil {
			return nil, err
		}
		if t.Width > 0 {
			return applyNumericTypmod(v, t)
		}
		return v, nil
	case StringFamily:
		return applyStringTypmod(s, t, false)
	case UnknownFamily:
		return s, nil
	case BytesFamily:
		return parseBytea(s)
	case UUIDFamily:
		return parseUUID(s)
	case JSONFamily:
		if t.Oid == OidJSONB {
			v, err := CanonicalJSONB(s)
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := ValidateJSON(s); err != nil {
			return nil, err
		}
		return s, nil
	case DateFamily:
		return parseDate(s, cfg)
	case TimeFamily:
		return parseTime(s, cfg)
	case TimestampFamily:
		return parseTimestamp(s, cfg, false)
	case TimestampTZFamily:
		return parseTimestamp(s, cfg, true)
	case IntervalFamily:
		return parseIntervalIn(s, cfg.IntervalStyle)
	case ArrayFamily:
		if t.IsVector() {
			return parseVector(t, s)
		}
		return parseArray(t, s, cfg)
	}
	return nil, sqlerr.Unsupported("text input for type %s is not supported", t)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func parseBool(s string) (Datum, error) {
	if v, ok := parseBoolString(trimSpace(s)); ok {
		return v, nil
	}
	return nil, errInvalidSyntax("boolean", s)
}

// parseBoolString is Postgres' parse_bool_with_len.
func parseBoolString(v string) (bool, bool) {
	n := len(v)
	if n == 0 {
		return false, false
	}
	pre := func(word string, min int) bool {
		return n >= min && n <= len(word) && strings.EqualFold(v, word[:n])
	}
	switch v[0] {
	case 't', 'T':
		if pre("true", 1) {
			return true, true
		}
	case 'f', 'F':
		if pre("false", 1) {
			return false, true
		}
	case 'y', 'Y':
		if pre("yes", 1) {
			return true, true
		}
	case 'n', 'N':
		if pre("no", 1) {
			return false, true
		}
	case 'o', 'O':
		if pre("on", 2) {
			return true, true
		}
		if pre("off", 2) {
			return false, true
		}
	case '1':
		if n == 1 {
			return true, true
		}
	case '0':
		if n == 1 {
			return false, true
		}
	}
	return false, false
}

func intBounds(t *T) (int64, int64) {
	switch t.Oid {
	case OidInt2:
		return math.MinInt16, math.MaxInt16
	case OidInt4:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// scanPGInt parses Postgres 16 integer syntax: optional whitespace and sign,
// decimal digits or 0x/0o/0b prefixed digits, single underscores between
// digits. It returns the magnitude and sign; overflow is reported if the
// magnitude exceeds 2^63.
func scanPGInt(s string) (mag uint64, neg, overflow, ok bool) {
	s = trimSpace(s)
	if s == "" {
		return 0, false, false, false
	}
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := uint64(10)
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		}
	}
	if s == "" {
		return 0, neg, false, false
	}
	prevDigit := base != 10 // after a prefix an underscore may follow
	ndig := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			if !prevDigit || i == len(s)-1 {
				return 0, neg, false, false
			}
			prevDigit = false
			continue
		}
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, neg, false, false
		}
		if d >= base {
			return 0, neg, false, false
		}
		prevDigit = true
		ndig++
		if mag > (math.MaxUint64-d)/base {
			overflow = true
			continue
		}
		mag = mag*base + d
	}
	if ndig == 0 {
		return 0, neg, false, false
	}
	return mag, neg, overflow, true
}

func parseInt(t *T, s string) (Datum, error) {
	mag, neg, overflow, ok := scanPGInt(s)
	if !ok {
		return nil, errInvalidSyntax(t.String(), s)
	}
	lo, hi := intBounds(t)
	if overflow {
		return nil, errOutOfRangeFor(s, t.String())
	}
	if neg {
		if mag > uint64(-(lo+1))+1 {
			return nil, errOutOfRangeFor(s, t.String())
		}
		if mag == 0 {
			return int64(0), nil
		}
		return -int64(mag-1) - 1, nil
	}
	if mag > uint64(hi) {
		return nil, errOutOfRangeFor(s, t.String())
	}
	return int64(mag), nil
}

func parseOid(t *T, s string) (Datum, error) {
	mag, neg, overflow, ok := scanPGInt(s)
	if !ok {
		return nil, errInvalidSyntax(t.String(), s)
	}
	if overflow || mag > math.MaxUint32 {
		return nil, errOutOfRangeFor(s, t.String())
	}
	if neg {
		if mag > 1<<31 {
			return nil, errOutOfRangeFor(s, t.String())
		}
		return int64(uint32(-int64(mag))), nil
	}
	return int64(mag), nil
}

func isFloatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == st {
			return false
		}
	}
	return i == len(s)
}

func parseFloat(t *T, s string) (Datum, error) {
	name := t.String()
	v := trimSpace(s)
	switch strings.ToLower(v) {
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	if !isFloatSyntax(v) {
		return nil, errInvalidSyntax(name, s)
	}
	bits := 64
	if t.Oid == OidFloat4 {
		bits = 32
	}
	f, err := strconv.ParseFloat(v, bits)
	if err != nil || math.IsInf(f, 0) {
		return nil, errFloatOutOfRange(v, name)
	}
	if f == 0 && strings.ContainsAny(strings.SplitN(strings.ToLower(v), "e", 2)[0], "123456789") {
		return nil, errFloatOutOfRange(v, name)
	}
	return f, nil
}

// parseNumericInput is numeric_in without a typmod.
func parseNumericInput(s string) (*apd.Decimal, error) {
	v := trimSpace(s)
	switch strings.ToLower(v) {
	case "nan":
		return &apd.Decimal{Form: apd.NaN}, nil
	case "infinity", "+infinity", "inf", "+inf":
		return &apd.Decimal{Form: apd.Infinite}, nil
	case "-infinity", "-inf":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	}
	if strings.ContainsAny(v, "_xXoObB") {
		// PG16 integer-style numerics: underscores and 0x/0o/0b prefixes.
		if mag, neg, overflow, ok := scanPGInt(v); ok && !overflow {
			d := new(apd.Decimal).SetFinite(0, 0)
			d.Coeff.SetUint64(mag)
			d.Negative = neg && mag != 0
			return d, nil
		}
		if strings.Contains(v, "_") {
			if d, err := parseDecimal(strings.ReplaceAll(v, "_", "")); err == nil && !strings.Contains(v, "__") &&
				!strings.HasPrefix(v, "_") && !strings.HasSuffix(v, "_") {
				return d, nil
			}
			return nil, errInvalidSyntax("numeric", s)
		}
	}
	if !isFloatSyntax(v) {
		return nil, errInvalidSyntax("numeric", s)
	}
	d, err := parseDecimal(v)
	if err != nil {
		return nil, errInvalidSyntax("numeric", s)
	}
	return d, nil
}

// parseDecimal parses a finite decimal and normalises it to a non-positive
// exponent (Postgres numerics have a display scale >= 0).
func parseDecimal(s string) (*apd.Decimal, error) {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return nil, err
	}
	if d.Form != apd.Finite {
		return d, nil
	}
	if d.Exponent > 0 {
		neg := d.Negative
		d.Negative = false
		if _, err := apd.BaseContext.WithPrecision(uint32(d.NumDigits()+int64(d.Exponent)+1)).Quantize(d, d, 0); err != nil {
			return nil, err
		}
		d.Negative = neg
	}
	if d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return d, nil
}

func applyStringTypmod(s string, t *T, explicit bool) (Datum, error) {
	switch t.Oid {
	case OidName:
		if len(s) > 63 {
			n := 63
			for n > 0 && !utf8RuneStart(s[n]) {
				n--
			}
			s = s[:n]
		}
		return s, nil
	case OidChar:
		if len(s) > 1 {
			s = s[:1]
		}
		return s, nil
	case OidVarchar, OidBPChar:
		if t.Width <= 0 {
			return s, nil
		}
		n := int(t.Width)
		chars := 0
		cut := len(s)
		for i := range s {
			if chars == n {
				cut = i
				break
			}
			chars++
		}
		if cut < len(s) {
			if !explicit && strings.TrimRight(s[cut:], " ") != "" {
				kind := "character varying"
				if t.Oid == OidBPChar {
					kind = "character"
				}
				return nil, sqlerr.New(sqlerr.StringDataRightTruncation, "value too long for type %s(%d)", kind, n)
			}
			s = s[:cut]
		} else if t.Oid == OidBPChar && chars < n {
			s += strings.Repeat(" ", n-chars)
		}
		return s, nil
	}
	return s, nil
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func parseBytea(s string) (Datum, error) {
	if strings.HasPrefix(s, `\x`) {
		out := make([]byte, 0, (len(s)-2)/2)
		for i := 2; i < len(s); {
			c := s[i]
			if isSpace(c) {
				i++
				continue
			}
			hi, ok := unhex(c)
			if !ok {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid hexadecimal digit: \"%s\"", string(rune(c)))
			}
			if i+1 >= len(s) {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid hexadecimal data: odd number of digits")
			}
			lo, ok := unhex(s[i+1])
			if !ok {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid hexadecimal digit: \"%s\"", string(rune(s[i+1])))
			}
			out = append(out, hi<<4|lo)
			i += 2
		}
		return string(out), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i += 2
			continue
		}
		if i+3 < len(s)+0 && isOct(s[i+1]) && s[i+1] <= '3' && isOct(s[i+2]) && isOct(s[i+3]) {
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 4
			continue
		}
		return nil, errInvalidSyntax("bytea", s)
	}
	return string(out), nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func parseUUID(s string) (Datum, error) {
	src := s
	if strings.HasPrefix(src, "{") {
		if !strings.HasSuffix(src, "}") {
			return nil, errInvalidSyntax("uuid", s)
		}
		src = src[1 : len(src)-1]
	}
	out := make([]byte, 0, 16)
	for i := 0; i < len(src); {
		if len(out) == 16 {
			return nil, errInvalidSyntax("uuid", s)
		}
		if i+1 >= len(src) {
			return nil, errInvalidSyntax("uuid", s)
		}
		hi, ok1 := unhex(src[i])
		lo, ok2 := unhex(src[i+1])
		if !ok1 || !ok2 {
			return nil, errInvalidSyntax("uuid", s)
		}
		out = append(out, hi<<4|lo)
		i += 2
		// A hyphen may follow any group of four digits.
		if i < len(src) && src[i] == '-' && len(out)%2 == 0 && len(out) < 16 {
			i++
			if i >= len(src) {
				return nil, errInvalidSyntax("uuid", s)
			}
		}
	}
	if len(out) != 16 {
		return nil, errInvalidSyntax("uuid", s)
	}
	return string(out), nil
}

// ---- arrays ----

func malformedArray(s, detail string) error {
	return sqlerr.New(sqlerr.InvalidTextRepresentation, "malformed array literal: \"%s\"", s).WithDetail("%s", detail)
}

func parseArray(t *T, s string, cfg *Config) (Datum, error) {
	elem := t.Elem
	if elem == nil {
		elem = Text
	}
	p := strings.TrimLeftFunc(s, unicode.IsSpace)
	if strings.HasPrefix(p, "[") {
		// Dimension decoration "[lo:hi]=": accepted and ignored for one dimension.
		eq := strings.Index(p, "=")
		if eq < 0 {
			return nil, malformedArray(s, "Missing \"=\" after array dimensions.")
		}
		p = strings.TrimLeftFunc(p[eq+1:], unicode.IsSpace)
	}
	if !strings.HasPrefix(p, "{") {
		return nil, malformedArray(s, "Array value must start with \"{\" or dimension information.")
	}
	i := 1
	arr := &Array{Elem: elem, Elems: []Datum{}}
	skip := func() {
		for i < len(p) && isSpace(p[i]) {
			i++
		}
	}
	skip()
	if i < len(p) && p[i] == '}' {
		i++
		skip()
		if i != len(p) {
			return nil, malformedArray(s, "Junk after closing right brace.")
		}
		return arr, nil
	}
	for {
		skip()
		if i >= len(p) {
			return nil, malformedArray(s, "Unexpected end of input.")
		}
		if p[i] == '{' {
			if len(arr.Elems) == 0 {
				return nil, sqlerr.Unsupported("multidimensional arrays are not supported")
			}
			return nil, malformedArray(s, "Unexpected \"{\" character.")
		}
		var val []byte
		quoted := false
		hasContent := false
		for i < len(p) {
			c := p[i]
			if c == '"' {
				quoted = true
				hasContent = true
				i++
				for {
					if i >= len(p) {
						return nil, malformedArray(s, "Unexpected end of input.")
					}
					if p[i] == '\\' && i+1 < len(p) {
						val = append(val, p[i+1])
						i += 2
						continue
					}
					if p[i] == '"' {
						i++
						break
					}
					val = append(val, p[i])
					i++
				}
				continue
			}
			if c == '\\' {
				if i+1 >= len(p) {
					return nil, malformedArray(s, "Unexpected end of input.")
				}
				val = append(val, p[i+1])
				hasContent = true
				quoted = true
				i += 2
				continue
			}
			if c == ',' || c == '}' {
				break
			}
			if c == '{' {
				return nil, malformedArray(s, "Unexpected \"{\" character.")
			}
			val = append(val, c)
			hasContent = true
			i++
		}
		if i >= len(p) {
			return nil, malformedArray(s, "Unexpected end of input.")
		}
		if !hasContent {
			return nil, malformedArray(s, "Unexpected \""+string(p[i])+"\" character.")
		}
		str := string(val)
		if !quoted {
			str = strings.TrimRight(str, " \t\n\r\v\f")
		}
		if !quoted && strings.EqualFold(str, "null") {
			arr.Elems = append(arr.Elems, nil)
		} else {
			d, err := ParseText(elem, str, cfg)
			if err != nil {
				return nil, err
			}
			arr.Elems = append(arr.Elems, d)
		}
		if p[i] == '}' {
			i++
			skip()
			if i != len(p) {
				return nil, malformedArray(s, "Junk after closing right brace.")
			}
			return arr, nil
		}
		i++ // ','
	}
}
