package types

import (
	"math"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// intervalAcc accumulates interval fields with Postgres' DecodeInterval rules.
type intervalAcc struct {
	months, days, micros int64
	bad                  bool
}

func (a *intervalAcc) addMicros(val int64, fval float64, scale int64) {
	a.micros += val*scale + int64(math.RoundToEven(fval*float64(scale)))
}

func (a *intervalAcc) addFractMicros(frac float64, scale int64) {
	a.micros += int64(math.RoundToEven(frac * float64(scale)))
}

func (a *intervalAcc) addFractDays(frac float64, scale int64) {
	if frac == 0 {
		return
	}
	frac *= float64(scale)
	extra := int64(frac)
	a.days += extra
	a.addFractMicros(frac-float64(extra), MicrosPerDay)
}

func (a *intervalAcc) addYears(val int64, fval float64, scale int64) {
	a.months += val * scale * 12
	a.months += int64(math.RoundToEven(fval * float64(scale) * 12))
}

func (a *intervalAcc) add(unit int, val int64, fval float64) {
	switch unit {
	case iuMicro:
		a.addMicros(val, fval, 1)
	case iuMilli:
		a.addMicros(val, fval, 1000)
	case iuSecond:
		a.addMicros(val, fval, MicrosPerSecond)
	case iuMinute:
		a.addMicros(val, fval, MicrosPerMinute)
	case iuHour:
		a.addMicros(val, fval, MicrosPerHour)
	case iuDay:
		a.days += val
		a.addFractMicros(fval, MicrosPerDay)
	case iuWeek:
		a.days += val * 7
		a.addFractDays(fval, 7)
	case iuMonth:
		a.months += val
		a.addFractDays(fval, 30)
	case iuYear:
		a.addYears(val, fval, 1)
	case iuDecade:
		a.addYears(val, fval, 10)
	case iuCentury:
		a.addYears(val, fval, 100)
	case iuMillennium:
		a.addYears(val, fval, 1000)
	}
}

const (
	iuNone = iota
	iuMicro
	iuMilli
	iuSecond
	iuMinute
	iuHour
	iuDay
	iuWeek
	iuMonth
	iuYear
	iuDecade
	iuCentury
	iuMillennium
	iuAgo
	iuIgnore
)

var intervalUnits = map[string]int{
	"@": iuIgnore, "ago": iuAgo,
	"c": iuCentury, "cent": iuCentury, "centuries": iuCentury, "century": iuCentury,
	"d": iuDay, "day": iuDay, "days": iuDay,
	"dec": iuDecade, "decade": iuDecade, "decades": iuDecade, "decs": iuDecade,
	"h": iuHour, "hour": iuHour, "hours": iuHour, "hr": iuHour, "hrs": iuHour,
	"m": iuMinute, "min": iuMinute, "mins": iuMinute, "minute": iuMinute, "minutes": iuMinute,
	"microsecon": iuMicro, "us": iuMicro, "usec": iuMicro, "usecs": iuMicro,
	"mil": iuMillennium, "millennia": iuMillennium, "millennium": iuMillennium, "mils": iuMillennium,
	"millisecon": iuMilli, "ms": iuMilli, "msec": iuMilli, "msecs": iuMilli,
	"mon": iuMonth, "mons": iuMonth, "month": iuMonth, "months": iuMonth,
	"s": iuSecond, "sec": iuSecond, "second": iuSecond, "seconds": iuSecond, "secs": iuSecond,
	"w": iuWeek, "week": iuWeek, "weeks": iuWeek,
	"y": iuYear, "year": iuYear, "years": iuYear, "yr": iuYear, "yrs": iuYear,
}

func lookupIntervalUnit(s string) (int, bool) {
	if len(s) > 10 {
		s = s[:10]
	}
	u, ok := intervalUnits[s]
	return u, ok
}

// parseIntervalIn reads an interval as Postgres does in IntervalStyle st:
// in sql_standard a leading minus with no other sign negates every field
// ('-1 2:03:04' is -1 days -02:03:04, where the other styles read -1 days
// +02:03:04), so that the style's output reads back.
func parseIntervalIn(s string, st IntervalStyle) (Datum, error) {
	if st != IntervalSQLStandard {
		return parseInterval(s)
	}
	t := strings.TrimLeft(s, "@ \t\n\r")
	fields := strings.Fields(t)
	if len(fields) == 0 || len(fields[0]) < 2 || fields[0][0] != '-' {
		return parseInterval(s)
	}
	for _, f := range fields[1:] {
		if f[0] == '-' || f[0] == '+' {
			return parseInterval(s)
		}
	}
	d, err := parseInterval(t[1:])
	if err != nil {
		return parseInterval(s) // the error names what was written
	}
	iv := d.(IntervalValue)
	return IntervalValue{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}, nil
}

func parseInterval(s string) (Datum, error) {
	bad := func() error { return errDatetimeSyntax("interval", s) }
	trimmed := trimSpace(s)
	var acc intervalAcc
	if len(trimmed) > 0 && (trimmed[0] == 'P' || trimmed[0] == 'p') {
		if !parseISOInterval(trimmed[1:], &acc) {
			return nil, bad()
		}
		return finishInterval(acc, s)
	}
	fs, ok := tokenizeDateTime(s)
	if !ok || len(fs) == 0 {
		return nil, bad()
	}
	// '@' is punctuation the tokenizer already dropped.
	unit := iuNone
	isBefore := false
	parsingUnit := false
	seen := map[int]bool{}
	mark := func(units ...int) bool {
		for _, u := range units {
			if seen[u] {
				return false
			}
		}
		for _, u := range units {
			seen[u] = true
		}
		return true
	}
	for i := len(fs) - 1; i >= 0; i-- {
		f := fs[i]
		switch f.kind {
		case dtTime:
			us, ok := decodeIntervalTime(f.s)
			if !ok {
				return nil, bad()
			}
			if !mark(iuHour, iuMinute, iuSecond) {
				return nil, bad()
			}
			acc.micros += us
			unit = iuDay
			parsingUnit = false
			continue
		case dtTZ:
			if strings.Contains(f.s[1:], ":") {
				us, ok := decodeIntervalTime(f.s[1:])
				if ok {
					if f.s[0] == '-' {
						us = -us
					}
					if !mark(iuHour, iuMinute, iuSecond) {
						return nil, bad()
					}
					acc.micros += us
					unit = iuDay
					parsingUnit = false
					continue
				}
			}
			fallthrough
		case dtNumber, dtDate:
			if unit == iuNone {
				unit = iuSecond
			}
			str := f.s
			neg := strings.HasPrefix(str, "-")
			body := strings.TrimLeft(str, "+-")
			digits := body
			rest := ""
			if k := strings.IndexAny(body, "-."); k >= 0 {
				digits, rest = body[:k], body[k:]
			}
			var val int64
			if digits != "" {
				v, err := strconv.ParseInt(digits, 10, 64)
				if err != nil {
					return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval field value out of range: \"%s\"", s)
				}
				val = v
			} else if !strings.HasPrefix(rest, ".") {
				return nil, bad()
			}
			if neg {
				val = -val
			}
			var fval float64
			switch {
			case strings.HasPrefix(rest, "-"):
				v2, err := strconv.ParseInt(rest[1:], 10, 64)
				if err != nil || v2 < 0 || v2 >= 12 {
					return nil, bad()
				}
				if neg {
					v2 = -v2
				}
				unit = iuMonth
				val = val*12 + v2
			case strings.HasPrefix(rest, "."):
				fv, err := strconv.ParseFloat("0"+rest, 64)
				if err != nil {
					return nil, bad()
				}
				if neg {
					fv = -fv
				}
				fval = fv
			case rest != "":
				return nil, bad()
			}
			if !mark(unit) {
				return nil, bad()
			}
			acc.add(unit, val, fval)
			unit = iuNone
			parsingUnit = false
		case dtString, dtSpecial:
			if parsingUnit {
				return nil, bad()
			}
			u, ok := lookupIntervalUnit(f.s)
			if !ok {
				return nil, bad()
			}
			switch u {
			case iuIgnore:
				continue
			case iuAgo:
				if i != len(fs)-1 {
					return nil, bad()
				}
				isBefore = true
			default:
				unit = u
				parsingUnit = true
			}
		}
	}
	if parsingUnit {
		return nil, bad()
	}
	if isBefore {
		acc.months, acc.days, acc.micros = -acc.months, -acc.days, -acc.micros
	}
	return finishInterval(acc, s)
}

func finishInterval(acc intervalAcc, s string) (Datum, error) {
	if acc.months > math.MaxInt32 || acc.months < math.MinInt32 || acc.days > math.MaxInt32 || acc.days < math.MinInt32 {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval field value out of range: \"%s\"", s)
	}
	return IntervalValue{Months: int32(acc.months), Days: int32(acc.days), Micros: acc.micros}, nil
}

// decodeIntervalTime decodes "h:mm", "h:mm:ss[.f]" or "mm:ss.f" to µs.
func decodeIntervalTime(s string) (int64, bool) {
	frac := ""
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		s, frac = s[:dot], s[dot:]
	}
	parts := strings.Split(s, ":")
	var v [3]int64
	for i, p := range parts {
		if i > 2 || p == "" {
			return 0, false
		}
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, false
		}
		v[i] = x
	}
	fs, ok := parseFracMicros(frac)
	if !ok {
		return 0, false
	}
	var h, m, sec int64
	if len(parts) == 2 && frac != "" {
		m, sec = v[0], v[1]
	} else {
		h, m, sec = v[0], v[1], v[2]
	}
	if m > 59 || sec > 59 {
		return 0, false
	}
	return h*MicrosPerHour + m*MicrosPerMinute + sec*MicrosPerSecond + fs, true
}

// parseISOInterval parses the part after "P" of an ISO 8601 duration.
func parseISOInterval(s string, acc *intervalAcc) bool {
	if s == "" {
		return false
	}
	inTime := false
	for len(s) > 0 {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return false
			}
			inTime = true
			s = s[1:]
			if s == "" {
				return false
			}
			continue
		}
		i := 0
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
			i++
		}
		if i == 0 || i >= len(s) {
			return false
		}
		num := s[:i]
		des := s[i] | 0x20
		s = s[i+1:]
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return false
		}
		val := int64(f)
		fval := f - float64(val)
		var unit int
		switch {
		case !inTime && des == 'y':
			unit = iuYear
		case !inTime && des == 'm':
			unit = iuMonth
		case !inTime && des == 'w':
			unit = iuWeek
		case !inTime && des == 'd':
			unit = iuDay
		case inTime && des == 'h':
			unit = iuHour
		case inTime && des == 'm':
			unit = iuMinute
		case inTime && des == 's':
			unit = iuSecond
		default:
			return false
		}
		acc.add(unit, val, fval)
	}
	return true
}

// DurationMicros reads text as a length of time: an interval of fixed
// length (no months or years, whose length varies; a day is 24 hours) that
// is not negative, in microseconds. Stream and source options (allowed
// lateness, timeouts, delays) take their durations this way.
func DurationMicros(s string) (int64, error) {
	d, err := ParseText(Interval, s, nil)
	if err != nil {
		return 0, err
	}
	iv := d.(IntervalValue)
	if iv.Months != 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "interval \"%s\" has months, whose length varies", s).
			WithHint("Give it in days, hours, minutes or seconds.")
	}
	us := int64(iv.Days)*MicrosPerDay + iv.Micros
	if us < 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "interval \"%s\" is negative", s)
	}
	return us, nil
}
