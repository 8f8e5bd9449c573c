package expr

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// to_char / to_timestamp / to_date templates (Postgres formatting.c, the
// common subset).

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// dtPatterns are matched longest first at each position.
var dtPatterns = []string{
	"HH24", "HH12", "HH", "MI", "SSSSS", "SSSS", "SS", "MS", "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6",
	"A.M.", "a.m.", "P.M.", "p.m.", "AM", "am", "PM", "pm",
	"Y,YYY", "IYYY", "YYYY", "IYY", "YYY", "IY", "YY", "I", "Y",
	"MONTH", "Month", "month", "MON", "Mon", "mon", "MM",
	"DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "IDDD", "DD", "D", "ID",
	"WW", "IW", "W", "CC", "J", "Q", "RM", "rm", "TZH", "TZM", "TZ", "tz", "OF",
}

// dtPatternsByFirst lists dtPatterns by their first byte, longest first:
// to_char tried every pattern at every position of the template, a fifth
// of Nexmark q16's time.
var dtPatternsByFirst = func() (by [256][]string) {
	for _, p := range dtPatterns {
		by[p[0]] = append(by[p[0]], p)
	}
	for _, ps := range by {
		slices.SortStableFunc(ps, func(a, b string) int { return len(b) - len(a) })
	}
	return by
}()

func matchPattern(f string) string {
	if f == "" {
		return ""
	}
	for _, p := range dtPatternsByFirst[f[0]] {
		if strings.HasPrefix(f, p) {
			return p
		}
	}
	return ""
}

func capitalize(s, pat string) string {
	switch {
	case pat == strings.ToUpper(pat):
		return strings.ToUpper(s)
	case pat == strings.ToLower(pat):
		return strings.ToLower(s)
	}
	return s
}

// formatDateTime renders f with a to_char template; interval templates
// (isInterval) print hours beyond 24 and no calendar names.
func formatDateTime(f tmFields, format string, isInterval bool, tzName string) string {
	var sb strings.Builder
	days := types.DaysFromCivil(f.year, max(f.mon, 1), max(f.mday, 1))
	year := f.year
	if !isInterval && year <= 0 {
		year = -(year - 1) // BC years print positive
	}
	for i := 0; i < len(format); {
		rest := format[i:]
		fm := false
		for {
			if strings.HasPrefix(rest, "FM") || strings.HasPrefix(rest, "fm") {
				fm = true
				rest = rest[2:]
				i += 2
				continue
			}
			if strings.HasPrefix(rest, "TM") || strings.HasPrefix(rest, "tm") {
				rest = rest[2:]
				i += 2
				continue
			}
			break
		}
		if rest == "" {
			break
		}
		if rest[0] == '"' {
			j := 1
			for j < len(rest) && rest[j] != '"' {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				sb.WriteByte(rest[j])
				j++
			}
			i += j + 1
			continue
		}
		if rest[0] == '\\' && len(rest) > 1 {
			sb.WriteByte(rest[1])
			i += 2
			continue
		}
		pat := matchPattern(rest)
		if pat == "" {
			sb.WriteByte(rest[0])
			i++
			continue
		}
		i += len(pat)
		num := func(v int64, width int) {
			s := strconv.FormatInt(absInt(v), 10)
			if !fm && len(s) < width {
				s = strings.Repeat("0", width-len(s)) + s
			}
			if v < 0 {
				s = "-" + s
			}
			sb.WriteString(s)
		}
		name := func(s string, width int) {
			s = capitalize(s, pat)
			if !fm && len(s) < width {
				s += strings.Repeat(" ", width-len(s))
			}
			sb.WriteString(s)
		}
		hour12 := f.hour % 12
		if hour12 == 0 {
			hour12 = 12
		}
		switch pat {
		case "HH24":
			num(f.hour, 2)
		case "HH12", "HH":
			num(hour12, 2)
		case "MI":
			num(f.min, 2)
		case "SS":
			num(f.sec, 2)
		case "SSSS", "SSSSS":
			num(f.hour*3600+f.min*60+f.sec, 0)
		case "MS":
			num(f.usec/1000, 3)
		case "US":
			num(f.usec, 6)
		case "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
			n := int(pat[2] - '0')
			v := f.usec
			for k := 6; k > n; k-- {
				v /= 10
			}
			num(v, n)
		case "AM", "PM", "am", "pm":
			s := "AM"
			if f.hour >= 12 {
				s = "PM"
			}
			if pat[0] >= 'a' {
				s = strings.ToLower(s)
			}
			sb.WriteString(s)
		case "A.M.", "P.M.", "a.m.", "p.m.":
			s := "A.M."
			if f.hour >= 12 {
				s = "P.M."
			}
			if pat[0] >= 'a' {
				s = strings.ToLower(s)
			}
			sb.WriteString(s)
		case "YYYY":
			num(year, 4)
		case "Y,YYY":
			sb.WriteString(strconv.FormatInt(year/1000, 10) + "," + padN(year%1000, 3))
		case "YYY":
			num(year%1000, 3)
		case "YY":
			num(year%100, 2)
		case "Y":
			num(year%10, 1)
		case "IYYY", "IYY", "IY", "I":
			iy, _ := isoWeek(days)
			mod := map[string]int64{"IYYY": 100000, "IYY": 1000, "IY": 100, "I": 10}[pat]
			num(iy%mod, len(pat))
		case "MONTH", "Month", "month":
			if f.mon >= 1 && f.mon <= 12 {
				name(monthNames[f.mon-1], 9)
			}
		case "MON", "Mon", "mon":
			if f.mon >= 1 && f.mon <= 12 {
				name(monthNames[f.mon-1][:3], 3)
			}
		case "MM":
			num(f.mon, 2)
		case "DAY", "Day", "day":
			name(dayNames[floorMod64(days+4, 7)], 9)
		case "DY", "Dy", "dy":
			name(dayNames[floorMod64(days+4, 7)][:3], 3)
		case "DDD":
			if isInterval {
				num(f.mday, 3)
			} else {
				num(days-types.DaysFromCivil(f.year, 1, 1)+1, 3)
			}
		case "IDDD":
			iy, _ := isoWeek(days)
			start := isoYearStart(iy)
			num(days-start+1, 3)
		case "DD":
			num(f.mday, 2)
		case "D":
			num(floorMod64(days+4, 7)+1, 1)
		case "ID":
			d := floorMod64(days+4, 7)
			if d == 0 {
				d = 7
			}
			num(d, 1)
		case "WW":
			num((days-types.DaysFromCivil(f.year, 1, 1))/7+1, 2)
		case "IW":
			_, w := isoWeek(days)
			num(w, 2)
		case "W":
			num((f.mday-1)/7+1, 1)
		case "CC":
			c := (year + 99) / 100
			if isInterval {
				c = year / 100
			}
			num(c, 2)
		case "J":
			num(days+2440588, 0)
		case "Q":
			num((f.mon-1)/3+1, 1)
		case "RM", "rm":
			romans := []string{"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"}
			if f.mon >= 1 {
				s := romans[f.mon-1]
				if pat == "rm" {
					s = strings.ToLower(s)
				}
				if !fm {
					s += strings.Repeat(" ", 4-len(s))
				}
				sb.WriteString(s)
			}
		case "TZ":
			sb.WriteString(strings.ToUpper(tzName))
		case "tz":
			sb.WriteString(strings.ToLower(tzName))
		case "TZH":
			h := f.gmtoff / 3600
			if f.gmtoff < 0 {
				sb.WriteString("-" + pad2(-h))
			} else {
				sb.WriteString("+" + pad2(h))
			}
		case "TZM":
			sb.WriteString(pad2(absInt(f.gmtoff) / 60 % 60))
		case "OF":
			if tzName != "" || f.gmtoff != 0 {
				sb.WriteString(formatOffset(f.gmtoff, true)[:3])
				if m := absInt(f.gmtoff) / 60 % 60; m != 0 {
					sb.WriteString(":" + pad2(m))
				}
			}
		}
	}
	return sb.String()
}

func padN(v int64, n int) string {
	s := strconv.FormatInt(v, 10)
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// isoYearStart returns the day number of the Monday starting ISO year iy.
func isoYearStart(iy int64) int64 {
	jan4 := types.DaysFromCivil(iy, 1, 4)
	return jan4 - floorMod64(jan4+3, 7)
}

// ---- to_timestamp / to_date parsing ----

type parsedDT struct {
	f     tmFields
	hasTZ bool
}

func parseDateTimeFormat(s, format string) (parsedDT, error) {
	p := parsedDT{f: tmFields{year: 1, mon: 1, mday: 1}}
	pm, hasAMPM := false, false
	bc := false
	si := 0
	skipSpaces := func() {
		for si < len(s) && s[si] == ' ' {
			si++
		}
	}
	readNum := func(maxDigits int) (int64, error) {
		skipSpaces()
		start := si
		neg := false
		if si < len(s) && (s[si] == '-' || s[si] == '+') {
			neg = s[si] == '-'
			si++
			start = si
		}
		for si < len(s) && s[si] >= '0' && s[si] <= '9' && (maxDigits <= 0 || si-start < maxDigits) {
			si++
		}
		if si == start {
			tok := s[start:]
			if len(tok) > 0 {
				tok = strings.Fields(tok)[0]
			}
			return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid value \"%s\" for \"%s\"", tok, format)
		}
		v, _ := strconv.ParseInt(s[start:si], 10, 64)
		if neg {
			v = -v
		}
		return v, nil
	}
	readName := func(names []string, abbrev bool) (int64, error) {
		skipSpaces()
		for i, n := range names {
			if abbrev {
				n = n[:3]
			}
			if len(s)-si >= len(n) && strings.EqualFold(s[si:si+len(n)], n) {
				si += len(n)
				return int64(i), nil
			}
		}
		return 0, sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid value \"%s\" for \"%s\"", s[si:], format)
	}
	for fi := 0; fi < len(format); {
		rest := format[fi:]
		if strings.HasPrefix(rest, "FM") || strings.HasPrefix(rest, "fm") {
			fi += 2
			continue
		}
		if rest[0] == '"' {
			j := 1
			for j < len(rest) && rest[j] != '"' {
				j++
				si++
			}
			fi += j + 1
			continue
		}
		pat := matchPattern(rest)
		if pat == "" {
			// A separator in the template skips one character of input.
			if rest[0] == ' ' {
				skipSpaces()
			} else if si < len(s) && (s[si] < '0' || s[si] > '9') {
				si++
			}
			fi++
			continue
		}
		fi += len(pat)
		var err error
		var v int64
		switch pat {
		case "YYYY", "IYYY":
			v, err = readNum(0)
			p.f.year = v
		case "YYY", "YY", "IY", "IYY", "Y", "I":
			v, err = readNum(len(pat))
			switch len(pat) {
			case 2:
				if v < 70 {
					v += 2000
				} else if v < 100 {
					v += 1900
				}
			case 3:
				if v < 100 {
					v += 2000
				} else if v < 1000 {
					v += 1000
				}
			case 1:
				v += 2000
			}
			p.f.year = v
		case "MM":
			v, err = readNum(2)
			p.f.mon = v
		case "MONTH", "Month", "month":
			v, err = readName(monthNames, false)
			p.f.mon = v + 1
		case "MON", "Mon", "mon":
			v, err = readName(monthNames, true)
			p.f.mon = v + 1
		case "DAY", "Day", "day":
			_, err = readName(dayNames, false)
		case "DY", "Dy", "dy":
			_, err = readName(dayNames, true)
		case "DD":
			v, err = readNum(2)
			p.f.mday = v
		case "DDD":
			v, err = readNum(3)
			y, m, d := types.CivilFromDays(types.DaysFromCivil(p.f.year, 1, 1) + v - 1)
			p.f.year, p.f.mon, p.f.mday = y, m, d
		case "HH24":
			v, err = readNum(2)
			p.f.hour = v
		case "HH", "HH12":
			v, err = readNum(2)
			if err == nil && (v < 1 || v > 12) {
				return p, sqlerr.New(sqlerr.InvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", v).WithHint("Use the 24-hour clock, or give an hour between 1 and 12.")
			}
			p.f.hour = v % 12
		case "MI":
			v, err = readNum(2)
			p.f.min = v
		case "SS":
			v, err = readNum(2)
			p.f.sec = v
		case "MS":
			start := si
			v, err = readNum(3)
			for k := si - start; k < 3; k++ {
				v *= 10
			}
			p.f.usec = v * 1000
		case "US", "FF6", "FF5", "FF4", "FF3", "FF2", "FF1":
			start := si
			v, err = readNum(6)
			for k := si - start; k < 6; k++ {
				v *= 10
			}
			p.f.usec = v
		case "AM", "PM", "am", "pm", "A.M.", "P.M.", "a.m.", "p.m.":
			skipSpaces()
			n := len(pat)
			if si+n <= len(s) {
				hasAMPM = true
				pm = strings.EqualFold(s[si:si+1], "p")
				si += n
			}
		case "J":
			v, err = readNum(0)
			p.f.year, p.f.mon, p.f.mday = types.CivilFromDays(v - 2440588)
		case "TZH":
			v, err = readNum(2)
			p.hasTZ = true
			p.f.gmtoff = v * 3600
		case "TZM":
			v, err = readNum(2)
			if p.f.gmtoff < 0 {
				p.f.gmtoff -= v * 60
			} else {
				p.f.gmtoff += v * 60
			}
		case "TZ", "tz", "OF":
			return p, sqlerr.Unsupported("formatting field \"%s\" is only supported in to_char", pat)
		default:
			// Q, W, WW, IW, CC, D, ID: accepted and ignored like Postgres mostly does.
			_, err = readNum(0)
		}
		if err != nil {
			return p, err
		}
	}
	if hasAMPM && pm {
		p.f.hour += 12
	}
	if bc {
		p.f.year = -p.f.year + 1
	}
	if p.f.mon < 1 || p.f.mon > 12 || p.f.mday < 1 || p.f.mday > daysInMonth(p.f.year, p.f.mon) {
		return p, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: \"%s\"", s)
	}
	if p.f.hour > 24 || p.f.min > 59 || p.f.sec > 60 {
		return p, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: \"%s\"", s)
	}
	return p, nil
}

// ---- numeric to_char ----

// formatNumber implements to_char(numeric, template) for 9 0 . D , G S MI PR FM.
// A value that rounds to zero at the template's precision prints as
// unsigned unless keepZeroSign (float8, whose C-formatted digits PostgreSQL
// reads the sign from, prints -0.004 as -0.00; numeric prints .00).
func formatNumber(d *apd.Decimal, format string, keepZeroSign bool) (types.Datum, error) {
	fm := false
	var intPat, fracPat []byte // '9' or '0' and ',' in the integer part
	seenPoint := false
	signMode := "" // "", "S", "MI", "PR"
	signAtStart := false
	prefix := ""
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case strings.HasPrefix(format[i:], "FM") || strings.HasPrefix(format[i:], "fm"):
			fm = true
			i++
		case c == '9' || c == '0':
			if seenPoint {
				fracPat = append(fracPat, c)
			} else {
				intPat = append(intPat, c)
			}
		case c == '.' || c == 'D' || c == 'd':
			seenPoint = true
		case c == ',' || c == 'G' || c == 'g':
			if !seenPoint {
				intPat = append(intPat, ',')
			}
		case c == 'S' || c == 's':
			signMode = "S"
			signAtStart = len(intPat) == 0
		case strings.HasPrefix(format[i:], "MI"):
			signMode = "MI"
			i++
		case strings.HasPrefix(format[i:], "PR"):
			signMode = "PR"
			i++
		default:
			prefix += string(c)
		}
	}
	var rounded apd.Decimal
	c := DecimalCtx
	c.Rounding = apd.RoundHalfUp
	_, _ = c.Quantize(&rounded, d, -int32(len(fracPat)))
	neg := d.Negative && (keepZeroSign || !rounded.IsZero())
	rounded.Negative = false
	digits := rounded.Text('f')
	intDigits, fracDigits := digits, ""
	if k := strings.IndexByte(digits, '.'); k >= 0 {
		intDigits, fracDigits = digits[:k], digits[k+1:]
	}
	nIntSlots := 0
	for _, p := range intPat {
		if p != ',' {
			nIntSlots++
		}
	}
	if intDigits == "0" {
		intDigits = ""
	}
	overflow := len(intDigits) > nIntSlots
	// Fill integer slots right to left.
	out := make([]byte, len(intPat))
	di := len(intDigits) - 1
	firstZero := len(intPat)
	for k, p := range intPat {
		if p == '0' {
			firstZero = k
			break
		}
	}
	for k := len(intPat) - 1; k >= 0; k-- {
		p := intPat[k]
		switch {
		case overflow:
			if p == ',' {
				out[k] = ','
			} else {
				out[k] = '#'
			}
		case p == ',':
			if di >= 0 || k > firstZero {
				out[k] = ','
			} else {
				out[k] = ' '
			}
		case di >= 0:
			out[k] = intDigits[di]
			di--
		case p == '0' || k >= firstZero:
			out[k] = '0'
		default:
			out[k] = ' '
		}
	}
	intStr := string(out)
	if len(intPat) > 0 && intStr[len(intStr)-1] == ' ' && len(fracPat) == 0 {
		// A value of zero still prints one digit.
		intStr = intStr[:len(intStr)-1] + "0"
	}
	var fracStr string
	if seenPoint {
		if overflow {
			fracStr = "." + strings.Repeat("#", len(fracPat))
		} else {
			fracStr = "." + fracDigits
		}
	}
	// Sign goes just left of the first printed digit.
	sign := " "
	if neg {
		sign = "-"
	}
	if signMode == "S" && !neg {
		sign = "+"
	}
	body := intStr + fracStr
	if fm {
		body = strings.TrimLeft(body, " ")
		if seenPoint && len(fracPat) > 0 {
			// FM drops trailing zeros coming from 9s only.
			trim := 0
			for k := len(fracPat) - 1; k >= 0 && fracPat[k] == '9'; k-- {
				if body[len(body)-1-trim] == '0' {
					trim++
				} else {
					break
				}
			}
			body = body[:len(body)-trim]
		}
		if strings.IndexAny(body, "0123456789") < 0 {
			// FM never prints a number without a digit: zero is "0.".
			body = "0" + body
		}
	}
	switch signMode {
	case "MI":
		if neg {
			body += "-"
		} else if !fm {
			body += " "
		}
		return prefix + body, nil
	case "PR":
		if neg {
			trimmed := strings.TrimLeft(body, " ")
			return prefix + body[:len(body)-len(trimmed)] + "<" + trimmed + ">", nil
		}
		if !fm {
			body = " " + body + " "
		}
		return prefix + body, nil
	case "S":
		if signAtStart {
			trimmed := strings.TrimLeft(body, " ")
			return prefix + body[:len(body)-len(trimmed)] + sign + trimmed, nil
		}
		return prefix + body + sign, nil
	}
	if fm {
		if neg {
			return prefix + "-" + body, nil
		}
		return prefix + body, nil
	}
	trimmed := strings.TrimLeft(body, " ")
	return prefix + body[:len(body)-len(trimmed)] + sign + trimmed, nil
}
