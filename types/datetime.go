package types

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone names must resolve even without a system zoneinfo

	"github.com/sluice-db/sluice/sqlerr"
)

// ---- calendar arithmetic (proleptic Gregorian, astronomical years) ----

// DaysFromCivil returns days since 1970-01-01 of y-m-d (year 0 is 1 BC).
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Range limits as Postgres enforces them (days since 1970-01-01).
const (
	minDateDays = -2440588                 // 4714-11-24 BC (Julian day 0)
	maxDateDays = 2147483647 - 2440588 - 1 // 5874897-12-31
	maxTSDays   = 106741034 - 2440588 + 0  // 294277-01-01
)

// MinTimestamp and MaxTimestamp bound the finite timestamp values
// (microseconds since 1970-01-01): MinTimestamp <= v < MaxTimestamp.
const (
	MinTimestamp = minDateDays * MicrosPerDay
	MaxTimestamp = maxTSDays * MicrosPerDay
)

// ---- DateStyle ----

// DateOutput is the output half of the DateStyle setting.
type DateOutput uint8

// The DateStyle output styles; the zero value is ISO, the default.
const (
	DateISO      DateOutput = iota // 2024-03-05 10:11:12+00
	DateSQL                        // 03/05/2024 10:11:12 UTC (05/03/2024 with DMY)
	DatePostgres                   // Tue Mar 05 10:11:12 2024 UTC
	DateGerman                     // 05.03.2024 10:11:12 UTC
)

// DateOrder is the field-order half of DateStyle: how ambiguous numeric date
// input such as 05/03/2024 is read, and the order of SQL and Postgres output.
type DateOrder uint8

// The DateStyle field orders; the zero value is MDY, the default.
const (
	DateMDY DateOrder = iota
	DateDMY
	DateYMD
)

// DateStyle is the DateStyle setting. The zero value is "ISO, MDY".
type DateStyle struct {
	Output DateOutput
	Order  DateOrder
}

// String returns the setting as SHOW DateStyle and ParameterStatus print it.
func (ds DateStyle) String() string {
	out := [...]string{"ISO", "SQL", "Postgres", "German"}[ds.Output]
	return out + ", " + [...]string{"MDY", "DMY", "YMD"}[ds.Order]
}

// ParseDateStyle applies a DateStyle value (Postgres' check_datestyle) to
// cur: a comma-separated list of ISO, SQL, Postgres, German, YMD, DMY/Euro…,
// MDY/US/NonEuro…, DEFAULT; a part not given keeps its value in cur, and
// German without an order implies DMY. Errors are 22023 with Postgres' detail.
func ParseDateStyle(value string, cur DateStyle) (DateStyle, error) {
	bad := func(detail string, args ...any) (DateStyle, error) {
		return cur, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"DateStyle\": \"%s\"", value).
			WithDetail(detail, args...)
	}
	toks, ok := SplitIdentifiers(value, ',')
	if !ok {
		return bad("List syntax is invalid.")
	}
	ds := cur
	haveOutput, haveOrder, conflict := false, false, false
	setOutput := func(o DateOutput) {
		conflict = conflict || (haveOutput && ds.Output != o)
		ds.Output, haveOutput = o, true
	}
	setOrder := func(o DateOrder) {
		conflict = conflict || (haveOrder && ds.Order != o)
		ds.Order, haveOrder = o, true
	}
	for _, tok := range toks {
		switch {
		case tok == "iso":
			setOutput(DateISO)
		case tok == "sql":
			setOutput(DateSQL)
		case strings.HasPrefix(tok, "postgres"):
			setOutput(DatePostgres)
		case tok == "german":
			setOutput(DateGerman)
			if !haveOrder {
				ds.Order = DateDMY
			}
		case tok == "ymd":
			setOrder(DateYMD)
		case tok == "dmy" || strings.HasPrefix(tok, "euro"):
			setOrder(DateDMY)
		case tok == "mdy" || tok == "us" || strings.HasPrefix(tok, "noneuro"):
			setOrder(DateMDY)
		case tok == "default":
			// The boot value, "ISO, MDY", parsed in place as Postgres does.
			setOutput(DateISO)
			setOrder(DateMDY)
		default:
			return bad("Unrecognized key word: \"%s\".", tok)
		}
	}
	if conflict {
		return bad("Conflicting \"datestyle\" specifications.")
	}
	return ds, nil
}

// ---- output ----

var (
	monthAbbrevs = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	dayAbbrevs   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

func appendYear(buf []byte, y int64) ([]byte, bool) {
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	s := strconv.FormatInt(y, 10)
	for i := len(s); i < 4; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...), bc
}

func appendYMD(buf []byte, days int64) ([]byte, bool) {
	y, m, d := CivilFromDays(days)
	buf, bc := appendYear(buf, y)
	buf = append(buf, '-')
	buf = append2(buf, uint64(m))
	buf = append(buf, '-')
	buf = append2(buf, uint64(d))
	return buf, bc
}

// appendDateFields appends the date part of a date or timestamp in the
// numeric styles (Postgres' EncodeDateOnly), reporting whether it is BC.
func appendDateFields(buf []byte, days int64, ds DateStyle) ([]byte, bool) {
	if ds.Output == DateISO {
		return appendYMD(buf, days)
	}
	y, m, d := CivilFromDays(days)
	sep := byte('/')
	switch ds.Output {
	case DateGerman:
		sep = '.'
	case DatePostgres:
		sep = '-'
	}
	first, second := uint64(m), uint64(d)
	if ds.Order == DateDMY || ds.Output == DateGerman {
		first, second = second, first // NB: YMD prints month first here, as Postgres does
	}
	buf = append2(buf, first)
	buf = append(buf, sep)
	buf = append2(buf, second)
	buf = append(buf, sep)
	return appendYear(buf, y)
}

func appendDate(buf []byte, days int64, ds DateStyle) []byte {
	switch days {
	case PosInfinity:
		return append(buf, "infinity"...)
	case NegInfinity:
		return append(buf, "-infinity"...)
	}
	buf, bc := appendDateFields(buf, days, ds)
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

func appendTimeOfDay(buf []byte, us int64) []byte {
	h := us / MicrosPerHour
	us -= h * MicrosPerHour
	m := us / MicrosPerMinute
	us -= m * MicrosPerMinute
	s := us / MicrosPerSecond
	us -= s * MicrosPerSecond
	buf = append2(buf, uint64(h))
	buf = append(buf, ':')
	buf = append2(buf, uint64(m))
	buf = append(buf, ':')
	buf = append2(buf, uint64(s))
	return appendFraction(buf, uint64(us))
}

// zoneOffset returns the UTC offset in seconds of loc at the instant us.
func zoneOffset(us int64, loc *time.Location) int64 {
	if loc == time.UTC {
		return 0
	}
	// Go's zone rules cover all int64 seconds; clamp microseconds first.
	_, off := time.Unix(floorDiv(us, MicrosPerSecond), 0).In(loc).Zone()
	return int64(off)
}

// zoneAbbrev returns the offset in seconds and the abbreviation (CET, EDT,
// LMT, +04) of loc at the instant us.
func zoneAbbrev(us int64, loc *time.Location) (int64, string) {
	if loc == time.UTC {
		return 0, "UTC"
	}
	name, off := time.Unix(floorDiv(us, MicrosPerSecond), 0).In(loc).Zone()
	if len(name) > 2 && name[0] == '<' {
		// A POSIX-style name such as "<+03>-03" (SET TIME ZONE 3): the
		// abbreviation is the part in angle brackets.
		if i := strings.IndexByte(name, '>'); i > 0 {
			name = name[1:i]
		}
	}
	return int64(off), name
}

// appendTimestamp appends a timestamp (loc nil) or a timestamptz shown in loc
// in the given DateStyle (Postgres' EncodeDateTime). ISO shows the zone as an
// offset, the other styles as its abbreviation.
func appendTimestamp(buf []byte, us int64, loc *time.Location, ds DateStyle) []byte {
	switch us {
	case PosInfinity:
		return append(buf, "infinity"...)
	case NegInfinity:
		return append(buf, "-infinity"...)
	}
	var off int64
	var abbrev string
	if loc != nil {
		off, abbrev = zoneAbbrev(us, loc)
	}
	local := us + off*MicrosPerSecond
	days := floorDiv(local, MicrosPerDay)
	tod := local - days*MicrosPerDay
	var bc bool
	if ds.Output == DatePostgres {
		// Tue Mar 05 10:11:12 2024 (DMY: Tue 05 Mar …)
		y, m, d := CivilFromDays(days)
		buf = append(buf, dayAbbrevs[(days%7+11)%7]...) // 1970-01-01 was a Thursday
		buf = append(buf, ' ')
		if ds.Order == DateDMY {
			buf = append2(buf, uint64(d))
			buf = append(buf, ' ')
			buf = append(buf, monthAbbrevs[m-1]...)
		} else {
			buf = append(buf, monthAbbrevs[m-1]...)
			buf = append(buf, ' ')
			buf = append2(buf, uint64(d))
		}
		buf = append(buf, ' ')
		buf = appendTimeOfDay(buf, tod)
		buf = append(buf, ' ')
		buf, bc = appendYear(buf, y)
	} else {
		buf, bc = appendDateFields(buf, days, ds)
		buf = append(buf, ' ')
		buf = appendTimeOfDay(buf, tod)
	}
	if loc != nil {
		if ds.Output == DateISO {
			buf = appendOffset(buf, off)
		} else {
			// NB: a POSIX-offset zone ('+05:30') has an empty abbreviation in
			// Postgres, which still prints the space.
			buf = append(buf, ' ')
			buf = append(buf, abbrev...)
		}
	}
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

// appendOffset appends a UTC offset as Postgres prints it: +HH, +HH:MM or +HH:MM:SS.
func appendOffset(buf []byte, off int64) []byte {
	if off < 0 {
		buf = append(buf, '-')
		off = -off
	} else {
		buf = append(buf, '+')
	}
	buf = append2(buf, uint64(off/3600))
	if off%3600 != 0 {
		buf = append(buf, ':')
		buf = append2(buf, uint64(off/60%60))
		if off%60 != 0 {
			buf = append(buf, ':')
			buf = append2(buf, uint64(off%60))
		}
	}
	return buf
}

// ---- tokenizer (Postgres' ParseDateTime) ----

type dtKind uint8

const (
	dtNumber dtKind = iota
	dtDate
	dtTime
	dtTZ
	dtString
	dtSpecial
)

type dtField struct {
	kind dtKind
	s    string // lowercased
	raw  string // as written (zone names are case-sensitive on disk)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func tokenizeDateTime(str string) ([]dtField, bool) {
	var fs []dtField
	i := 0
	n := len(str)
	for i < n {
		c := str[i]
		start := i
		var kind dtKind
		switch {
		case isSpace(c):
			i++
			continue
		case isDigit(c):
			i++
			for i < n && isDigit(str[i]) {
				i++
			}
			kind = dtNumber
			if i < n && str[i] == ':' {
				kind = dtTime
				for i < n && (isDigit(str[i]) || str[i] == ':' || str[i] == '.') {
					i++
				}
			} else if i < n && (str[i] == '-' || str[i] == '/' || str[i] == '.') {
				delim := str[i]
				i++
				if i < n && isDigit(str[i]) {
					if delim != '.' {
						kind = dtDate
					}
					for i < n && isDigit(str[i]) {
						i++
					}
					if i < n && str[i] == delim {
						kind = dtDate
						i++
						for i < n && (isDigit(str[i]) || str[i] == delim) {
							i++
						}
					}
				} else {
					kind = dtDate
					for i < n && (isAlnum(str[i]) || str[i] == delim) {
						i++
					}
				}
			}
		case c == '.' && i+1 < n && isDigit(str[i+1]):
			i++
			for i < n && isDigit(str[i]) {
				i++
			}
			kind = dtNumber
		case isAlpha(c):
			for i < n && isAlpha(str[i]) {
				i++
			}
			kind = dtString
			isDate := false
			if i < n && (str[i] == '-' || str[i] == '/' || str[i] == '.') {
				isDate = true
			} else if i < n && (str[i] == '+' || isDigit(str[i])) {
				if _, ok := dateKeywords[strings.ToLower(str[start:i])]; !ok {
					isDate = true
				}
			}
			if isDate {
				kind = dtDate
				for i < n && (str[i] == '+' || str[i] == '-' || str[i] == '/' || str[i] == '_' ||
					str[i] == '.' || str[i] == ':' || isAlnum(str[i])) {
					i++
				}
			}
		case c == '+' || c == '-':
			i++
			for i < n && isSpace(str[i]) {
				i++
			}
			if i < n && isDigit(str[i]) {
				kind = dtTZ
				for i < n && (isDigit(str[i]) || str[i] == ':' || str[i] == '.' || str[i] == '-') {
					i++
				}
			} else if i < n && isAlpha(str[i]) {
				kind = dtSpecial
				for i < n && isAlpha(str[i]) {
					i++
				}
			} else {
				return nil, false
			}
		default:
			// Other punctuation separates fields.
			i++
			continue
		}
		raw := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, str[start:i])
		fs = append(fs, dtField{kind: kind, s: strings.ToLower(raw), raw: raw})
	}
	return fs, true
}

// dateKeywords are the words of Postgres' datetktbl we understand.
var dateKeywords = map[string]int{
	"am": kwAM, "pm": kwPM, "ad": kwAD, "bc": kwBC, "t": kwISOT, "z": kwUTC, "zulu": kwUTC, "utc": kwUTC,
	"gmt": kwUTC, "ut": kwUTC, "epoch": kwEpoch, "infinity": kwInfinity, "now": kwNow, "today": kwToday,
	"tomorrow": kwTomorrow, "yesterday": kwYesterday, "allballs": kwAllballs,
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
	"jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
	"oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
	"sun": kwDOW, "sunday": kwDOW, "mon": kwDOW, "monday": kwDOW, "tue": kwDOW, "tues": kwDOW, "tuesday": kwDOW,
	"wed": kwDOW, "wednesday": kwDOW, "thu": kwDOW, "thur": kwDOW, "thurs": kwDOW, "thursday": kwDOW,
	"fri": kwDOW, "friday": kwDOW, "sat": kwDOW, "saturday": kwDOW,
}

const (
	kwAM = 100 + iota
	kwPM
	kwAD
	kwBC
	kwISOT
	kwUTC
	kwEpoch
	kwInfinity
	kwNow
	kwToday
	kwTomorrow
	kwYesterday
	kwAllballs
	kwDOW
)

// tzAbbrevs is a subset of Postgres' default timezone_abbreviations (offsets in seconds).
var tzAbbrevs = map[string]int64{
	"est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600, "cdt": -5 * 3600, "mst": -7 * 3600, "mdt": -6 * 3600,
	"pst": -8 * 3600, "pdt": -7 * 3600, "akst": -9 * 3600, "akdt": -8 * 3600, "hst": -10 * 3600,
	"cet": 3600, "cest": 2 * 3600, "met": 3600, "mest": 2 * 3600, "wet": 0, "west": 3600, "eet": 2 * 3600,
	"eest": 3 * 3600, "bst": 3600, "msk": 3 * 3600, "jst": 9 * 3600, "kst": 9 * 3600, "hkt": 8 * 3600,
	"sgt": 8 * 3600, "aest": 10 * 3600, "aedt": 11 * 3600, "acst": 34200, "awst": 8 * 3600, "nzst": 12 * 3600,
	"nzdt": 13 * 3600, "ist": 2 * 3600,
}

var locCache sync.Map // string -> *time.Location (immutable once loaded)

// LoadZone resolves a time zone name case-insensitively, as Postgres does.
func LoadZone(name string) (*time.Location, bool) {
	if v, ok := locCache.Load(name); ok {
		return v.(*time.Location), true
	}
	var loc *time.Location
	switch strings.ToLower(name) {
	case "utc", "gmt", "z", "zulu", "etc/utc", "universal":
		loc = time.UTC
	default:
		if l, err := time.LoadLocation(name); err == nil && name != "" && name != "Local" {
			loc = l
		} else if l, err := time.LoadLocation(titleZone(name)); err == nil {
			loc = l
		}
	}
	if loc == nil {
		return nil, false
	}
	locCache.Store(name, loc)
	return loc, true
}

func titleZone(name string) string {
	b := []byte(strings.ToLower(name))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return string(b)
}

// ---- decoding (Postgres' DecodeDateTime, simplified) ----

type dtResult struct {
	year, mon, mday int64
	hasDate         bool
	hour, min, sec  int64
	fsec            int64 // µs
	hasTime         bool
	bc              bool
	ampm            int // 0, kwAM, kwPM
	tzOff           int64
	hasTZOff        bool
	loc             *time.Location
	special         int // kwEpoch, kwInfinity (+/-), kwNow, kwToday, ...
	negInf          bool
	badZone         string // an unknown zone name
	mdOverflow      bool   // month or day out of range: maybe the wrong DateStyle
}

// rangeError is the error for a field out of range; like Postgres it hints
// at DateStyle when the month or day is impossible.
func (r *dtResult) rangeError(s string) error {
	err := errDatetimeRange(s)
	if r.mdOverflow {
		err = err.WithHint("Perhaps you need a different \"datestyle\" setting.")
	}
	return err
}

// decodeDateTime decodes fields of a date, time or timestamp literal.
// It returns ok=false on bad syntax and rangeErr on field overflow.
func decodeDateTime(s string, order DateOrder) (r dtResult, ok bool, rangeErr bool) {
	fs, ok := tokenizeDateTime(s)
	if !ok || len(fs) == 0 {
		return r, false, false
	}
	var yearLen int
	haveMonName := false
	setYear := func(v int64, l int) {
		r.year, yearLen = v, l
	}
	ymdDone := func() bool { return r.year != 0 || yearLen > 0 }
	for idx, f := range fs {
		switch f.kind {
		case dtDate:
			if strings.IndexFunc(f.s, func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0 && strings.Contains(f.s, "/") {
				loc, found := LoadZone(f.raw)
				if !found {
					r.badZone = f.s
					return r, false, false
				}
				r.loc = loc
				continue
			}
			if r.hasDate {
				return r, false, false
			}
			if !decodeDateField(&r, f.s, &yearLen, order) {
				return r, false, false
			}
			r.hasDate = true
		case dtTime:
			if r.hasTime {
				return r, false, false
			}
			if !decodeTimeField(&r, f.s) {
				return r, false, false
			}
			r.hasTime = true
		case dtTZ:
			if r.hasDate && !r.hasTime && idx > 0 && fs[idx-1].kind == dtDate && strings.Count(f.s, "-") > 1 {
				return r, false, false
			}
			off, good := decodeTZOffset(f.s)
			if !good {
				return r, false, false
			}
			r.tzOff, r.hasTZOff = off, true
		case dtNumber:
			v := f.s
			frac := ""
			if dot := strings.IndexByte(v, '.'); dot >= 0 {
				v, frac = v[:dot], v[dot:]
			}
			num, err := strconv.ParseInt(v, 10, 64)
			if err != nil && v != "" {
				return r, false, false
			}
			switch {
			case !r.hasDate && !haveMonName && frac == "" && (len(v) == 8 || len(v) == 6) && r.year == 0:
				// YYYYMMDD or YYMMDD
				if len(v) == 8 {
					setYear(num/10000, 4)
				} else {
					setYear(num/10000, 2)
				}
				r.mon, r.mday, r.hasDate = num/100%100, num%100, true
			case r.hasDate && !r.hasTime && frac == "" && (len(v) == 6 || len(v) == 4) && idx > 0 && fs[idx-1].s == "t":
				if len(v) == 6 {
					r.hour, r.min, r.sec = num/10000, num/100%100, num%100
				} else {
					r.hour, r.min = num/100, num%100
				}
				r.hasTime = true
			case frac != "" && r.hasTime:
				return r, false, false
			case !haveMonName && !r.hasDate && r.mday == 0 && r.year == 0 && len(v) <= 2 && frac == "":
				r.mday = num // "2 Jan 2024": the month name must follow
			case haveMonName && r.mday == 0 && len(v) <= 2 && frac == "":
				r.mday = num
				if r.year != 0 || yearLen > 0 {
					r.hasDate = true
				}
			case haveMonName && !ymdDone() && frac == "":
				setYear(num, len(v))
				if r.mday != 0 {
					r.hasDate = true
				}
			default:
				return r, false, false
			}
		case dtString, dtSpecial:
			word := f.s
			neg := false
			if f.kind == dtSpecial {
				neg = word[0] == '-'
				word = word[1:]
			}
			kw, known := dateKeywords[word]
			if !known {
				if off, ok := tzAbbrevs[word]; ok && f.kind == dtString {
					r.tzOff, r.hasTZOff = off, true
					continue
				}
				if f.kind == dtString {
					if loc, found := LoadZone(f.raw); found {
						r.loc = loc
						continue
					}
				}
				return r, false, false
			}
			if f.kind == dtSpecial && kw != kwInfinity {
				return r, false, false
			}
			switch {
			case kw >= 1 && kw <= 12:
				if haveMonName || r.hasDate {
					return r, false, false
				}
				haveMonName = true
				r.mon = int64(kw)
			case kw == kwAM || kw == kwPM:
				r.ampm = kw
			case kw == kwAD:
			case kw == kwBC:
				r.bc = true
			case kw == kwISOT, kw == kwDOW:
			case kw == kwUTC:
				r.tzOff, r.hasTZOff = 0, true
			default:
				if r.special != 0 {
					return r, false, false
				}
				r.special = kw
				r.negInf = neg
			}
		}
	}
	if !haveMonName && !r.hasDate && r.mday != 0 {
		return r, false, false
	}
	if haveMonName && !r.hasDate {
		if r.mday != 0 && ymdDone() {
			r.hasDate = true
		} else {
			return r, false, false
		}
	}
	if r.special != 0 {
		if r.hasDate || r.hasTime {
			if r.special != kwToday && r.special != kwTomorrow && r.special != kwYesterday && r.special != kwAllballs {
				return r, false, false
			}
		}
		return r, true, false
	}
	if r.hasDate {
		if yearLen <= 2 && yearLen > 0 && !r.bc {
			if r.year < 70 {
				r.year += 2000
			} else if r.year < 100 {
				r.year += 1900
			}
		}
		if r.bc {
			if r.year <= 0 {
				return r, false, true
			}
			r.year = 1 - r.year
		} else if r.year == 0 {
			return r, false, true
		}
		if r.mon < 1 || r.mon > 12 || r.mday < 1 || r.mday > 31 {
			r.mdOverflow = true
			return r, false, true
		}
		if r.mday > daysInMonth(r.year, r.mon) {
			return r, false, true
		}
	}
	if r.ampm != 0 {
		if r.hour < 1 || r.hour > 12 {
			return r, false, true
		}
		if r.ampm == kwAM && r.hour == 12 {
			r.hour = 0
		} else if r.ampm == kwPM && r.hour != 12 {
			r.hour += 12
		}
	}
	if r.hour < 0 || r.min < 0 || r.min > 59 || r.sec < 0 || r.sec > 60 || r.hour > 24 ||
		(r.hour == 24 && (r.min > 0 || r.sec > 0 || r.fsec > 0)) {
		return r, false, true
	}
	return r, true, false
}

// decodeDateField decodes "2024-01-02", "01/02/2024", "2024.01.02", "jan-02-2024".
func decodeDateField(r *dtResult, s string, yearLen *int, order DateOrder) bool {
	parts := strings.FieldsFunc(s, func(c rune) bool { return c == '-' || c == '/' || c == '.' })
	if len(parts) != 3 {
		return false
	}
	var nums []string
	mon := int64(0)
	for _, p := range parts {
		if isDigit(p[0]) {
			for i := 0; i < len(p); i++ {
				if !isDigit(p[i]) {
					return false
				}
			}
			nums = append(nums, p)
			continue
		}
		kw, ok := dateKeywords[p]
		if !ok || kw < 1 || kw > 12 || mon != 0 {
			return false
		}
		mon = int64(kw)
	}
	atoi := func(p string) int64 {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	switch {
	case mon != 0 && len(nums) == 2:
		r.mon = mon
		if len(nums[0]) >= 3 {
			r.year, *yearLen, r.mday = atoi(nums[0]), len(nums[0]), atoi(nums[1])
		} else {
			r.mday, r.year, *yearLen = atoi(nums[0]), atoi(nums[1]), len(nums[1])
		}
	case len(nums) == 3 && len(nums[0]) >= 3:
		r.year, *yearLen, r.mon, r.mday = atoi(nums[0]), len(nums[0]), atoi(nums[1]), atoi(nums[2])
	case len(nums) == 3 && order == DateDMY:
		r.mday, r.mon, r.year, *yearLen = atoi(nums[0]), atoi(nums[1]), atoi(nums[2]), len(nums[2])
	case len(nums) == 3 && order == DateYMD:
		r.year, *yearLen, r.mon, r.mday = atoi(nums[0]), len(nums[0]), atoi(nums[1]), atoi(nums[2])
	case len(nums) == 3:
		r.mon, r.mday, r.year, *yearLen = atoi(nums[0]), atoi(nums[1]), atoi(nums[2]), len(nums[2])
	default:
		return false
	}
	return r.year >= 0 && r.mon >= 0 && r.mday >= 0
}

// parseFracMicros converts ".123456789" to rounded microseconds.
func parseFracMicros(frac string) (int64, bool) {
	if frac == "" || frac == "." {
		return 0, true
	}
	f, err := strconv.ParseFloat("0"+frac, 64)
	if err != nil {
		return 0, false
	}
	return int64(math.RoundToEven(f * 1e6)), true
}

// decodeTimeField decodes "hh:mm", "hh:mm:ss", "hh:mm:ss.ffffff".
func decodeTimeField(r *dtResult, s string) bool {
	frac := ""
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		s, frac = s[:dot], s[dot:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	var vals [3]int64
	for i, p := range parts {
		if p == "" {
			return false
		}
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return false
		}
		vals[i] = v
	}
	if len(parts) == 2 && frac != "" {
		// mm:ss.fff is only for intervals; Postgres reads hh:mm.fff as an error.
		return false
	}
	fs, ok := parseFracMicros(frac)
	if !ok {
		return false
	}
	r.hour, r.min, r.sec, r.fsec = vals[0], vals[1], vals[2], fs
	if r.fsec >= MicrosPerSecond {
		r.sec++
		r.fsec -= MicrosPerSecond
	}
	return true
}

// decodeTZOffset decodes "+hh", "+hhmm", "+hh:mm", "+hh:mm:ss", returning seconds east of UTC.
func decodeTZOffset(s string) (int64, bool) {
	if len(s) < 2 {
		return 0, false
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	body := s[1:]
	var h, m, sec int64
	var err error
	if strings.Contains(body, ":") {
		parts := strings.Split(body, ":")
		if len(parts) > 3 {
			return 0, false
		}
		var v [3]int64
		for i, p := range parts {
			if v[i], err = strconv.ParseInt(p, 10, 64); err != nil {
				return 0, false
			}
		}
		h, m, sec = v[0], v[1], v[2]
	} else {
		v, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return 0, false
		}
		switch len(body) {
		case 1, 2:
			h = v
		case 3, 4:
			h, m = v/100, v%100
		case 5, 6:
			h, m, sec = v/10000, v/100%100, v%100
		default:
			return 0, false
		}
	}
	if h > 15 || m > 59 || sec > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60 + sec), true
}

// dateStyle returns the session's DateStyle.
//
// NB: Config (format.go) has no DateStyle field yet; until it has, every
// session reads and prints dates as "ISO, MDY". Adding the field
// `DateStyle DateStyle` to Config and returning c.DateStyle here turns the
// rest on.
func (c *Config) dateStyle() DateStyle {
	if c == nil {
		return DateStyle{}
	}
	return c.DateStyle
}

func (c *Config) now() time.Time {
	if c.Now.IsZero() {
		return time.Now()
	}
	return c.Now
}

func (c *Config) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// localDays returns the local date (days since epoch) of now in loc.
func localDays(now time.Time, loc *time.Location) int64 {
	y, m, d := now.In(loc).Date()
	return DaysFromCivil(int64(y), int64(m), int64(d))
}

func parseDate(s string, cfg *Config) (Datum, error) {
	r, ok, rangeErr := decodeDateTime(s, cfg.dateStyle().Order)
	if rangeErr {
		return nil, r.rangeError(s)
	}
	if !ok {
		return nil, errDatetimeSyntax("date", s)
	}
	switch r.special {
	case kwEpoch:
		return int64(0), nil
	case kwInfinity:
		if r.negInf {
			return NegInfinity, nil
		}
		return PosInfinity, nil
	case kwNow, kwToday:
		return localDays(cfg.now(), cfg.loc()), nil
	case kwTomorrow:
		return localDays(cfg.now(), cfg.loc()) + 1, nil
	case kwYesterday:
		return localDays(cfg.now(), cfg.loc()) - 1, nil
	case kwAllballs:
		return nil, errDatetimeSyntax("date", s)
	}
	if !r.hasDate {
		return nil, errDatetimeSyntax("date", s)
	}
	days := DaysFromCivil(r.year, r.mon, r.mday)
	if days < minDateDays || days > maxDateDays {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range: \"%s\"", s)
	}
	return days, nil
}

func parseTime(s string, cfg *Config) (Datum, error) {
	r, ok, rangeErr := decodeDateTime(s, cfg.dateStyle().Order)
	if rangeErr {
		return nil, r.rangeError(s)
	}
	if !ok {
		return nil, errDatetimeSyntax("time", s)
	}
	switch r.special {
	case kwAllballs:
		return int64(0), nil
	case kwNow:
		t := cfg.now().In(cfg.loc())
		return int64(t.Hour())*MicrosPerHour + int64(t.Minute())*MicrosPerMinute +
			int64(t.Second())*MicrosPerSecond + int64(t.Nanosecond()/1000), nil
	case 0:
	default:
		return nil, errDatetimeSyntax("time", s)
	}
	if !r.hasTime {
		return nil, errDatetimeSyntax("time", s)
	}
	us := r.hour*MicrosPerHour + r.min*MicrosPerMinute + r.sec*MicrosPerSecond + r.fsec
	if us > MicrosPerDay {
		return nil, errDatetimeRange(s)
	}
	return us, nil
}

func parseTimestamp(s string, cfg *Config, tz bool) (Datum, error) {
	name := "timestamp"
	if tz {
		name = "timestamp with time zone"
	}
	r, ok, rangeErr := decodeDateTime(s, cfg.dateStyle().Order)
	if rangeErr {
		return nil, r.rangeError(s)
	}
	if !ok {
		if r.badZone != "" {
			return nil, errZone(r.badZone)
		}
		return nil, errDatetimeSyntax(name, s)
	}
	loc := cfg.loc()
	if r.loc != nil {
		loc = r.loc
	}
	midnight := func(days int64) int64 {
		if !tz {
			return days * MicrosPerDay
		}
		return localToUTC(days, 0, loc)
	}
	switch r.special {
	case kwEpoch:
		return int64(0), nil
	case kwInfinity:
		if r.negInf {
			return NegInfinity, nil
		}
		return PosInfinity, nil
	case kwNow:
		now := cfg.now()
		if tz {
			return now.UnixMicro(), nil
		}
		_, off := now.In(loc).Zone()
		return now.UnixMicro() + int64(off)*MicrosPerSecond, nil
	case kwToday:
		return midnight(localDays(cfg.now(), loc)), nil
	case kwTomorrow:
		return midnight(localDays(cfg.now(), loc) + 1), nil
	case kwYesterday:
		return midnight(localDays(cfg.now(), loc) - 1), nil
	case kwAllballs:
		return nil, errDatetimeSyntax(name, s)
	}
	if !r.hasDate {
		return nil, errDatetimeSyntax(name, s)
	}
	days := DaysFromCivil(r.year, r.mon, r.mday)
	tod := r.hour*MicrosPerHour + r.min*MicrosPerMinute + r.sec*MicrosPerSecond + r.fsec
	if days < minDateDays || days >= maxTSDays {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: \"%s\"", s)
	}
	if !tz {
		return days*MicrosPerDay + tod, nil
	}
	if r.hasTZOff {
		return days*MicrosPerDay + tod - r.tzOff*MicrosPerSecond, nil
	}
	return localToUTC(days, tod, loc), nil
}

// localToUTC converts a wall-clock time in loc to µs since the epoch, as
// Postgres does (a skipped local time is read with the offset before the gap).
func localToUTC(days, tod int64, loc *time.Location) int64 {
	local := days*MicrosPerDay + tod
	if loc == time.UTC {
		return local
	}
	secs := floorDiv(local, MicrosPerSecond)
	// Try the offset in force just before and after; prefer the one that is consistent.
	_, off1 := time.Unix(secs, 0).In(loc).Zone()
	guess := local - int64(off1)*MicrosPerSecond
	off2 := zoneOffset(guess, loc)
	if off2 == int64(off1) {
		return guess
	}
	guess2 := local - off2*MicrosPerSecond
	if zoneOffset(guess2, loc) == off2 {
		return guess2
	}
	// In a gap: Postgres uses the offset in effect before the transition.
	if int64(off1) < off2 {
		return local - int64(off1)*MicrosPerSecond
	}
	return local - off2*MicrosPerSecond
}
