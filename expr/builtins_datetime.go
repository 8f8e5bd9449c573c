package expr

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Date/time values: date = days since 1970-01-01, time = µs since midnight,
// timestamp[tz] = µs since 1970-01-01 UTC (timestamp: of the wall clock),
// ±infinity = types.PosInfinity/NegInfinity. Calendar arithmetic goes through
// tmFields, the equivalent of Postgres' struct pg_tm.

const (
	dayUS        = types.MicrosPerDay
	daysPerMonth = 30
)

// tmFields is a broken-down timestamp (Postgres' pg_tm + fsec). year is
// astronomical (0 = 1 BC); mon is 1..12.
type tmFields struct {
	year, mon, mday, hour, min, sec, usec int64
	gmtoff                                int64 // seconds east of UTC
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod64(a, b int64) int64 { return a - floorDiv64(a, b)*b }

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

// splitMicros breaks a wall-clock µs value into fields.
func splitMicros(us int64) tmFields {
	days := floorDiv64(us, dayUS)
	tod := us - days*dayUS
	var f tmFields
	f.year, f.mon, f.mday = types.CivilFromDays(days)
	f.hour = tod / types.MicrosPerHour
	f.min = tod / types.MicrosPerMinute % 60
	f.sec = tod / types.MicrosPerSecond % 60
	f.usec = tod % types.MicrosPerSecond
	return f
}

func (f tmFields) micros() int64 {
	return types.DaysFromCivil(f.year, f.mon, f.mday)*dayUS + f.hour*types.MicrosPerHour + f.min*types.MicrosPerMinute +
		f.sec*types.MicrosPerSecond + f.usec
}

// zoneOffsetAt returns the UTC offset (seconds) of loc at instant us.
func zoneOffsetAt(us int64, loc *time.Location) int64 {
	if loc == time.UTC {
		return 0
	}
	_, off := time.UnixMicro(us).In(loc).Zone()
	return int64(off)
}

// toLocal converts a timestamptz to the wall clock in loc.
func toLocal(us int64, loc *time.Location) int64 {
	return us + zoneOffsetAt(us, loc)*types.MicrosPerSecond
}

// fromLocal converts a wall-clock time in loc to UTC, resolving DST gaps and
// overlaps as Postgres does (gap: the earlier offset; overlap: standard time).
func fromLocal(local int64, loc *time.Location) int64 {
	if loc == time.UTC {
		return local
	}
	// Postgres picks the offset in effect just before the transition for times
	// in a gap, and the later (standard) interpretation for ambiguous times.
	off1 := zoneOffsetAt(local-zoneOffsetAt(local, loc)*types.MicrosPerSecond, loc)
	t1 := local - off1*types.MicrosPerSecond
	if zoneOffsetAt(t1, loc) == off1 {
		// Ambiguous? Prefer the later instant (standard time), as PG does.
		offB := zoneOffsetAt(t1-12*types.MicrosPerHour, loc)
		tb := local - offB*types.MicrosPerSecond
		if offB != off1 && zoneOffsetAt(tb, loc) == offB && tb > t1 {
			return tb
		}
		return t1
	}
	offBefore := zoneOffsetAt(local-(off1+86400)*types.MicrosPerSecond, loc)
	return local - offBefore*types.MicrosPerSecond
}

func isInf(x int64) bool { return x == types.PosInfinity || x == types.NegInfinity }

func errTimestampRange() error {
	return sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
}

// Valid timestamp range: 4714-11-24 BC .. 294276-12-31 AD.
const (
	minTimestampUS = int64(-211813488000000000)
	maxTimestampUS = types.PosInfinity // NB: PG's end (294277 AD) does not fit µs since 1970
)

func checkTS(us int64) (int64, error) {
	if us < minTimestampUS || us >= maxTimestampUS {
		return 0, errTimestampRange()
	}
	return us, nil
}

// addInterval adds iv to a timestamp; loc != nil means timestamptz, whose
// month and day steps happen on the wall clock of loc.
func addInterval(us int64, iv types.IntervalValue, loc *time.Location) (int64, error) {
	if isInf(us) {
		return us, nil
	}
	if iv.Months != 0 || iv.Days != 0 {
		local := us
		if loc != nil {
			local = toLocal(us, loc)
		}
		if iv.Months != 0 {
			f := splitMicros(local)
			m := f.mon - 1 + int64(iv.Months)
			f.year += floorDiv64(m, 12)
			f.mon = floorMod64(m, 12) + 1
			f.mday = min(f.mday, daysInMonth(f.year, f.mon))
			local = f.micros()
		}
		local += int64(iv.Days) * dayUS
		if loc != nil {
			us = fromLocal(local, loc)
		} else {
			us = local
		}
	}
	us += iv.Micros
	return checkTS(us)
}

func negInterval(iv types.IntervalValue) (types.IntervalValue, error) {
	if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Micros == math.MinInt64 {
		return iv, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	return types.IntervalValue{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}, nil
}

func justifyHours(iv types.IntervalValue) types.IntervalValue {
	iv.Days += int32(iv.Micros / dayUS)
	iv.Micros %= dayUS
	if iv.Days > 0 && iv.Micros < 0 {
		iv.Micros += dayUS
		iv.Days--
	} else if iv.Days < 0 && iv.Micros > 0 {
		iv.Micros -= dayUS
		iv.Days++
	}
	return iv
}

func justifyDays(iv types.IntervalValue) types.IntervalValue {
	iv.Months += iv.Days / daysPerMonth
	iv.Days %= daysPerMonth
	if iv.Months > 0 && iv.Days < 0 {
		iv.Days += daysPerMonth
		iv.Months--
	} else if iv.Months < 0 && iv.Days > 0 {
		iv.Days -= daysPerMonth
		iv.Months++
	}
	return iv
}

func justifyInterval(iv types.IntervalValue) types.IntervalValue {
	iv.Days += int32(iv.Micros / dayUS)
	iv.Micros %= dayUS
	iv.Months += iv.Days / daysPerMonth
	iv.Days %= daysPerMonth
	if iv.Months > 0 && (iv.Days < 0 || (iv.Days == 0 && iv.Micros < 0)) {
		iv.Days += daysPerMonth
		iv.Months--
	} else if iv.Months < 0 && (iv.Days > 0 || (iv.Days == 0 && iv.Micros > 0)) {
		iv.Days -= daysPerMonth
		iv.Months++
	}
	if iv.Days > 0 && iv.Micros < 0 {
		iv.Micros += dayUS
		iv.Days--
	} else if iv.Days < 0 && iv.Micros > 0 {
		iv.Micros -= dayUS
		iv.Days++
	}
	return iv
}

// intervalMul is Postgres' interval_mul: fractional months spill into days
// (30 per month) and fractional days into time.
func intervalMul(iv types.IntervalValue, factor float64) (types.IntervalValue, error) {
	if math.IsNaN(factor) {
		return iv, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	tsround := func(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }
	monthD := float64(iv.Months) * factor
	dayD := float64(iv.Days) * factor
	if math.Abs(monthD) > math.MaxInt32 || math.Abs(dayD) > math.MaxInt32 {
		return iv, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	var r types.IntervalValue
	r.Months = int32(monthD)
	r.Days = int32(dayD)
	monthRemDays := tsround((monthD - float64(r.Months)) * daysPerMonth)
	secRem := tsround((dayD - float64(r.Days) + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		r.Days += int32(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	r.Days += int32(monthRemDays)
	t := math.RoundToEven(float64(iv.Micros)*factor + secRem*1e6)
	if math.Abs(t) >= 9.2e18 {
		return iv, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	r.Micros = int64(t)
	return r, nil
}

func registerDateTimeFuncs(r *Registry) {
	TS, TZ, D, TM, IV := types.Timestamp, types.TimestampTZ, types.Date, types.Time, types.Interval
	I4, I8, F8, N, T, B := types.Int4, types.Int8, types.Float8, types.Numeric, types.Text, types.Bool

	// ---- arithmetic operators ----
	op := func(name string, a, b, ret *types.T, f RowFunc) {
		r.Add(&Overload{Name: name, Args: ts(a, b), Ret: ret, Infix: true, Row: f})
	}
	tsPlus := func(ctx *EvalCtx, tz bool, us int64, iv types.IntervalValue) (types.Datum, error) {
		var loc *time.Location
		if tz {
			loc = cfgOf(ctx).Location
		}
		return addInterval(us, iv, loc)
	}
	for _, t := range []*types.T{TS, TZ} {
		tz := t == TZ
		op("+", t, IV, t, func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
			return tsPlus(ctx, tz, a[0].(int64), a[1].(types.IntervalValue))
		})
		op("+", IV, t, t, func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
			return tsPlus(ctx, tz, a[1].(int64), a[0].(types.IntervalValue))
		})
		op("-", t, IV, t, func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
			iv, err := negInterval(a[1].(types.IntervalValue))
			if err != nil {
				return nil, err
			}
			return tsPlus(ctx, tz, a[0].(int64), iv)
		})
		op("-", t, t, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			x, y := a[0].(int64), a[1].(int64)
			if isInf(x) || isInf(y) {
				return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "cannot subtract infinite timestamps")
			}
			return justifyHours(types.IntervalValue{Micros: x - y}), nil
		})
	}
	op("+", D, I4, D, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) { return dateAddDays(a[0].(int64), a[1].(int64)) })
	op("+", I4, D, D, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) { return dateAddDays(a[1].(int64), a[0].(int64)) })
	op("-", D, I4, D, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return dateAddDays(a[0].(int64), -a[1].(int64))
	})
	op("-", D, D, I4, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		x, y := a[0].(int64), a[1].(int64)
		if isInf(x) || isInf(y) {
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "cannot subtract infinite dates")
		}
		return x - y, nil
	})
	op("+", D, IV, TS, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return addInterval(dateToTS(a[0].(int64)), a[1].(types.IntervalValue), nil)
	})
	op("+", IV, D, TS, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return addInterval(dateToTS(a[1].(int64)), a[0].(types.IntervalValue), nil)
	})
	op("-", D, IV, TS, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		iv, err := negInterval(a[1].(types.IntervalValue))
		if err != nil {
			return nil, err
		}
		return addInterval(dateToTS(a[0].(int64)), iv, nil)
	})
	op("+", D, TM, TS, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return dateAddTime(a[0].(int64), a[1].(int64))
	})
	op("+", TM, D, TS, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return dateAddTime(a[1].(int64), a[0].(int64))
	})
	op("+", TM, IV, TM, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return floorMod64(a[0].(int64)+a[1].(types.IntervalValue).Micros, dayUS), nil
	})
	op("+", IV, TM, TM, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return floorMod64(a[1].(int64)+a[0].(types.IntervalValue).Micros, dayUS), nil
	})
	op("-", TM, IV, TM, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return floorMod64(a[0].(int64)-a[1].(types.IntervalValue).Micros, dayUS), nil
	})
	op("-", TM, TM, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return types.IntervalValue{Micros: a[0].(int64) - a[1].(int64)}, nil
	})
	op("+", IV, IV, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		x, y := a[0].(types.IntervalValue), a[1].(types.IntervalValue)
		return intervalAdd(x, y)
	})
	op("-", IV, IV, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		y, err := negInterval(a[1].(types.IntervalValue))
		if err != nil {
			return nil, err
		}
		return intervalAdd(a[0].(types.IntervalValue), y)
	})
	op("*", IV, F8, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return intervalMul(a[0].(types.IntervalValue), a[1].(float64))
	})
	op("*", F8, IV, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return intervalMul(a[1].(types.IntervalValue), a[0].(float64))
	})
	op("/", IV, F8, IV, func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		f := a[1].(float64)
		if f == 0 {
			return nil, ErrDivByZero()
		}
		return IntervalDiv(a[0].(types.IntervalValue), f), nil
	})
	r.Add(&Overload{Name: "-", Args: ts(IV), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return negInterval(a[0].(types.IntervalValue))
	}})
	r.Add(&Overload{Name: "+", Args: ts(IV), Ret: IV, Vec: identity})

	// ---- current time ----
	txnTS := func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) { return ctx.TxnTime.UnixMicro(), nil }
	for _, name := range []string{"now", "current_timestamp", "transaction_timestamp"} {
		r.Add(&Overload{Name: name, Ret: TZ, Row: txnTS, Oid: map[string]uint32{"now": 1299}[name]})
	}
	r.Add(&Overload{Name: "statement_timestamp", Ret: TZ, Row: func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) {
		return ctx.StmtTime.UnixMicro(), nil
	}})
	r.Add(&Overload{Name: "clock_timestamp", Ret: TZ, Volatile: true, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return time.Now().UnixMicro(), nil
	}})
	r.Add(&Overload{Name: "timeofday", Ret: T, Volatile: true, Row: func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) {
		return time.Now().In(cfgOf(ctx).Location).Format("Mon Jan 02 15:04:05.000000 2006 MST"), nil
	}})
	r.Add(&Overload{Name: "localtimestamp", Ret: TS, Row: func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) {
		return toLocal(ctx.TxnTime.UnixMicro(), cfgOf(ctx).Location), nil
	}})
	r.Add(&Overload{Name: "current_date", Ret: D, Row: func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) {
		return floorDiv64(toLocal(ctx.TxnTime.UnixMicro(), cfgOf(ctx).Location), dayUS), nil
	}})
	for _, name := range []string{"current_time", "localtime"} {
		r.Add(&Overload{Name: name, Ret: TM, Row: func(ctx *EvalCtx, _ []types.Datum) (types.Datum, error) {
			return floorMod64(toLocal(ctx.TxnTime.UnixMicro(), cfgOf(ctx).Location), dayUS), nil
		}})
	}

	// ---- extract / date_part ----
	for _, src := range []*types.T{TS, TZ, D, TM, IV} {
		src := src
		r.Add(&Overload{Name: "extract", Args: ts(T, src), Ret: N, Vec: extractVec(src, true)})
		r.Add(&Overload{Name: "date_part", Args: ts(T, src), Ret: F8, Vec: extractVec(src, false)})
	}

	// ---- date_trunc / date_bin ----
	r.Add(&Overload{Name: "date_trunc", Args: ts(T, TS), Ret: TS, Vec: dateTruncVec(false)})
	r.Add(&Overload{Name: "date_trunc", Args: ts(T, TZ), Ret: TZ, Vec: dateTruncVec(true)})
	r.Add(&Overload{Name: "date_trunc", Args: ts(T, TZ, T), Ret: TZ, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		loc, err := zoneLocation(a[2].(string))
		if err != nil {
			return nil, err
		}
		unit, err := truncUnit(a[0].(string), TZ)
		if err != nil {
			return nil, err
		}
		return truncTimestamp(unit, a[1].(int64), loc)
	}})
	r.Add(&Overload{Name: "date_trunc", Args: ts(T, IV), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return truncInterval(a[0].(string), a[1].(types.IntervalValue))
	}})
	for _, t := range []*types.T{TS, TZ} {
		r.Add(&Overload{Name: "date_bin", Args: ts(IV, t, t), Ret: t, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return dateBin(a[0].(types.IntervalValue), a[1].(int64), a[2].(int64))
		}})
	}

	// ---- constructors ----
	r.Add(&Overload{Name: "make_date", Args: ts(I4, I4, I4), Ret: D, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return makeDate(a[0].(int64), a[1].(int64), a[2].(int64))
	}})
	r.Add(&Overload{Name: "make_time", Args: ts(I4, I4, F8), Ret: TM, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return makeTime(a[0].(int64), a[1].(int64), a[2].(float64))
	}})
	r.Add(&Overload{Name: "make_timestamp", Args: ts(I4, I4, I4, I4, I4, F8), Ret: TS, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return makeTimestamp(a)
	}})
	r.Add(&Overload{Name: "make_timestamptz", Args: ts(I4, I4, I4, I4, I4, F8), Ret: TZ, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		us, err := makeTimestamp(a)
		if err != nil {
			return nil, err
		}
		return fromLocal(us.(int64), cfgOf(ctx).Location), nil
	}})
	r.Add(&Overload{Name: "make_timestamptz", Args: ts(I4, I4, I4, I4, I4, F8, T), Ret: TZ, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		us, err := makeTimestamp(a[:6])
		if err != nil {
			return nil, err
		}
		return zoneToUTC(us.(int64), a[6].(string))
	}})
	miArgs := []*types.T{I4, I4, I4, I4, I4, I4, F8}
	for n := 0; n <= len(miArgs); n++ {
		r.Add(&Overload{Name: "make_interval", Args: miArgs[:n], Ret: IV, Row: makeInterval})
	}

	// ---- interval helpers ----
	r.Add(&Overload{Name: "justify_days", Args: ts(IV), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return justifyDays(a[0].(types.IntervalValue)), nil
	}})
	r.Add(&Overload{Name: "justify_hours", Args: ts(IV), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return justifyHours(a[0].(types.IntervalValue)), nil
	}})
	r.Add(&Overload{Name: "justify_interval", Args: ts(IV), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return justifyInterval(a[0].(types.IntervalValue)), nil
	}})
	for _, t := range []*types.T{D, TS, TZ} {
		r.Add(&Overload{Name: "isfinite", Args: ts(t), Ret: B, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return !isInf(a[0].(int64)), nil
		}})
	}
	r.Add(&Overload{Name: "isfinite", Args: ts(IV), Ret: B, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) { return true, nil }})

	// ---- age ----
	r.Add(&Overload{Name: "age", Args: ts(TS, TS), Ret: IV, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return age(a[0].(int64), a[1].(int64))
	}})
	r.Add(&Overload{Name: "age", Args: ts(TZ, TZ), Ret: IV, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		loc := cfgOf(ctx).Location
		return age(toLocalInf(a[0].(int64), loc), toLocalInf(a[1].(int64), loc))
	}})
	r.Add(&Overload{Name: "age", Args: ts(TS), Ret: IV, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		today := floorDiv64(toLocal(ctx.TxnTime.UnixMicro(), cfgOf(ctx).Location), dayUS) * dayUS
		return age(today, a[0].(int64))
	}})
	r.Add(&Overload{Name: "age", Args: ts(TZ), Ret: IV, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		loc := cfgOf(ctx).Location
		today := floorDiv64(toLocal(ctx.TxnTime.UnixMicro(), loc), dayUS) * dayUS
		return age(today, toLocalInf(a[0].(int64), loc))
	}})

	// ---- AT TIME ZONE ----
	r.Add(&Overload{Name: "timezone", Args: ts(T, TS), Ret: TZ, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if isInf(a[1].(int64)) {
			return a[1], nil
		}
		return zoneToUTC(a[1].(int64), a[0].(string))
	}})
	r.Add(&Overload{Name: "timezone", Args: ts(T, TZ), Ret: TS, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if isInf(a[1].(int64)) {
			return a[1], nil
		}
		return utcToZone(a[1].(int64), a[0].(string))
	}})
	r.Add(&Overload{Name: "timezone", Args: ts(IV, TS), Ret: TZ, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		off, err := intervalZone(a[0].(types.IntervalValue))
		if err != nil || isInf(a[1].(int64)) {
			return a[1], err
		}
		return a[1].(int64) - off, nil
	}})
	r.Add(&Overload{Name: "timezone", Args: ts(IV, TZ), Ret: TS, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		off, err := intervalZone(a[0].(types.IntervalValue))
		if err != nil || isInf(a[1].(int64)) {
			return a[1], err
		}
		return a[1].(int64) + off, nil
	}})

	// ---- formatting and parsing ----
	r.Add(&Overload{Name: "to_char", Args: ts(TS, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		us := a[0].(int64)
		if isInf(us) {
			return nil, nil
		}
		return formatDateTime(splitMicros(us), a[1].(string), false, ""), nil
	}})
	r.Add(&Overload{Name: "to_char", Args: ts(TZ, T), Ret: T, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		us := a[0].(int64)
		if isInf(us) {
			return nil, nil
		}
		loc := cfgOf(ctx).Location
		t := time.UnixMicro(us).In(loc)
		abbr, off := t.Zone()
		f := splitMicros(us + int64(off)*types.MicrosPerSecond)
		f.gmtoff = int64(off)
		return formatDateTime(f, a[1].(string), false, zoneAbbrev(abbr, off)), nil
	}})
	r.Add(&Overload{Name: "to_char", Args: ts(IV, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		iv := a[0].(types.IntervalValue)
		f := tmFields{year: int64(iv.Months) / 12, mon: int64(iv.Months) % 12, mday: int64(iv.Days)}
		f.hour = iv.Micros / types.MicrosPerHour
		f.min = iv.Micros / types.MicrosPerMinute % 60
		f.sec = iv.Micros / types.MicrosPerSecond % 60
		f.usec = iv.Micros % types.MicrosPerSecond
		return formatDateTime(f, a[1].(string), true, ""), nil
	}})
	r.Add(&Overload{Name: "to_char", Args: ts(N, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return formatNumber(a[0].(*apd.Decimal), a[1].(string), false)
	}})
	for _, t := range []*types.T{I4, I8} {
		r.Add(&Overload{Name: "to_char", Args: ts(t, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return formatNumber(apd.New(a[0].(int64), 0), a[1].(string), false)
		}})
	}
	r.Add(&Overload{Name: "to_char", Args: ts(F8, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d, _, err := apd.NewFromString(strconv.FormatFloat(a[0].(float64), 'g', 15, 64))
		if err != nil {
			return strings.Repeat("#", len(a[1].(string))), nil
		}
		return formatNumber(d, a[1].(string), true)
	}})
	r.Add(&Overload{Name: "to_timestamp", Args: ts(F8), Ret: TZ, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		f := a[0].(float64)
		switch {
		case math.IsNaN(f):
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp cannot be NaN")
		case math.IsInf(f, 1):
			return types.PosInfinity, nil
		case math.IsInf(f, -1):
			return types.NegInfinity, nil
		}
		us := math.RoundToEven(f * 1e6)
		if us < float64(minTimestampUS) || us >= float64(maxTimestampUS) {
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: \"%s\"", strconv.FormatFloat(f, 'g', -1, 64))
		}
		return int64(us), nil
	}})
	r.Add(&Overload{Name: "to_timestamp", Args: ts(T, T), Ret: TZ, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		p, err := parseDateTimeFormat(a[0].(string), a[1].(string))
		if err != nil {
			return nil, err
		}
		local := p.f.micros()
		if p.hasTZ {
			return local - p.f.gmtoff*types.MicrosPerSecond, nil
		}
		return fromLocal(local, cfgOf(ctx).Location), nil
	}})
	r.Add(&Overload{Name: "to_date", Args: ts(T, T), Ret: D, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		p, err := parseDateTimeFormat(a[0].(string), a[1].(string))
		if err != nil {
			return nil, err
		}
		return types.DaysFromCivil(p.f.year, p.f.mon, p.f.mday), nil
	}})
}

func toLocalInf(us int64, loc *time.Location) int64 {
	if isInf(us) {
		return us
	}
	return toLocal(us, loc)
}

func dateToTS(d int64) int64 {
	switch d {
	case types.PosInfinity, types.NegInfinity:
		return d
	}
	return d * dayUS
}

func dateAddDays(d, n int64) (types.Datum, error) {
	if isInf(d) {
		return d, nil
	}
	r := d + n
	// Date range: 4714-11-24 BC .. 5874897-12-31.
	if r < -2451545+0-0 && r < types.DaysFromCivil(-4713, 11, 24) || r > types.DaysFromCivil(5874897, 12, 31) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range")
	}
	return r, nil
}

func dateAddTime(d, t int64) (types.Datum, error) {
	if isInf(d) {
		return d, nil
	}
	return checkTS(d*dayUS + t)
}

func intervalAdd(x, y types.IntervalValue) (types.Datum, error) {
	m := int64(x.Months) + int64(y.Months)
	d := int64(x.Days) + int64(y.Days)
	us := x.Micros + y.Micros
	if m != int64(int32(m)) || d != int64(int32(d)) || (x.Micros > 0 && y.Micros > 0 && us < 0) || (x.Micros < 0 && y.Micros < 0 && us >= 0) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	return types.IntervalValue{Months: int32(m), Days: int32(d), Micros: us}, nil
}

// IntervalDiv is Postgres' interval_div (the same spill rules as
// interval_mul); avg(interval) divides the sum by the count with it.
func IntervalDiv(iv types.IntervalValue, f float64) types.IntervalValue {
	tsround := func(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }
	var r types.IntervalValue
	r.Months = int32(float64(iv.Months) / f)
	r.Days = int32(float64(iv.Days) / f)
	monthRemDays := float64(iv.Months)/f - float64(r.Months)
	monthRemDays = tsround(monthRemDays * daysPerMonth)
	secRem := tsround((float64(iv.Days)/f - float64(r.Days) + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		r.Days += int32(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	r.Days += int32(monthRemDays)
	r.Micros = int64(math.RoundToEven(float64(iv.Micros)/f + secRem*1e6))
	return r
}

// ---- time zones ----

// zoneLocation resolves a zone name for date_trunc's zone argument.
func zoneLocation(zone string) (*time.Location, error) {
	if off, ok := parsePosixOffset(zone); ok {
		return time.FixedZone(zone, int(off)), nil
	}
	if loc, ok := types.LoadZone(zone); ok {
		return loc, nil
	}
	if off, ok := zoneAbbrevs[strings.ToLower(zone)]; ok {
		return time.FixedZone(strings.ToUpper(zone), int(off)), nil
	}
	return nil, errUnknownZone(zone)
}

func errUnknownZone(zone string) error {
	return errInvalidParam("time zone \"%s\" not recognized", zone)
}

// parsePosixOffset parses a numeric zone such as '+02', '-5', '+05:30'.
// NB: Postgres reads these as POSIX zones, where a positive number is west of
// Greenwich: AT TIME ZONE '+02' means UTC-2. It returns seconds east of UTC.
func parsePosixOffset(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	sign := int64(1)
	body := s
	switch s[0] {
	case '+':
		body = s[1:]
	case '-':
		sign, body = -1, s[1:]
	default:
		if s[0] < '0' || s[0] > '9' {
			return 0, false
		}
	}
	parts := strings.Split(body, ":")
	if len(parts) > 3 || parts[0] == "" {
		return 0, false
	}
	var secs int64
	mult := []int64{3600, 60, 1}
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			return 0, false
		}
		secs += v * mult[i]
	}
	if len(parts) == 1 && len(body) == 4 {
		// hhmm
		v, _ := strconv.ParseInt(body, 10, 64)
		secs = v/100*3600 + v%100*60
	}
	return -sign * secs, true
}

var zoneAbbrevs = map[string]int64{
	"est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600, "cdt": -5 * 3600, "mst": -7 * 3600, "mdt": -6 * 3600,
	"pst": -8 * 3600, "pdt": -7 * 3600, "cet": 3600, "cest": 2 * 3600, "eet": 2 * 3600, "eest": 3 * 3600,
	"wet": 0, "west": 3600, "bst": 3600, "jst": 9 * 3600, "ist": 2 * 3600, "msk": 3 * 3600,
	"aest": 10 * 3600, "aedt": 11 * 3600, "nzst": 12 * 3600, "nzdt": 13 * 3600, "hst": -10 * 3600,
}

// zoneToUTC interprets a wall-clock timestamp in zone (timestamp AT TIME ZONE zone).
func zoneToUTC(local int64, zone string) (types.Datum, error) {
	loc, err := zoneLocation(zone)
	if err != nil {
		return nil, err
	}
	return fromLocal(local, loc), nil
}

// utcToZone gives the wall clock in zone of an instant (timestamptz AT TIME ZONE zone).
func utcToZone(us int64, zone string) (types.Datum, error) {
	loc, err := zoneLocation(zone)
	if err != nil {
		return nil, err
	}
	return toLocal(us, loc), nil
}

func intervalZone(iv types.IntervalValue) (int64, error) {
	if iv.Months != 0 || iv.Days != 0 {
		return 0, errInvalidParam("interval time zone \"%s\" must not include months or days", formatIntervalPG(iv))
	}
	return iv.Micros, nil
}

func formatIntervalPG(iv types.IntervalValue) string {
	return string(types.AppendText(nil, types.Interval, iv, types.DefaultConfig()))
}

// zoneAbbrev is the TZ field of to_char: the zone's abbreviation, or a
// numeric offset when the zone has none.
func zoneAbbrev(abbr string, off int) string {
	if abbr != "" && (abbr[0] < '0' || abbr[0] > '9') && abbr[0] != '+' && abbr[0] != '-' {
		return abbr
	}
	return formatOffset(int64(off), false)
}

func formatOffset(off int64, colon bool) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := sign + pad2(off/3600)
	if m := off % 3600 / 60; m != 0 || colon {
		if colon {
			s += ":"
		}
		s += pad2(m)
	}
	return s
}

func pad2(x int64) string {
	if x < 10 && x >= 0 {
		return "0" + strconv.FormatInt(x, 10)
	}
	return strconv.FormatInt(x, 10)
}

// ---- constructors ----

func makeDate(y, m, d int64) (types.Datum, error) {
	yy := y
	if y < 0 {
		yy = y + 1 // 1 BC is year 0
	}
	if y == 0 || m < 1 || m > 12 || d < 1 || d > daysInMonth(yy, m) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, m, d)
	}
	return types.DaysFromCivil(yy, m, d), nil
}

func makeTime(h, m int64, s float64) (types.Datum, error) {
	us := int64(math.RoundToEven(s * 1e6))
	if h < 0 || m < 0 || m > 59 || s < 0 || us > 60*types.MicrosPerSecond ||
		h > 24 || (h == 24 && (m > 0 || us > 0)) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "time field value out of range: %d:%02d:%s", h, m, strconv.FormatFloat(s, 'f', -1, 64))
	}
	return h*types.MicrosPerHour + m*types.MicrosPerMinute + us, nil
}

func makeTimestamp(a []types.Datum) (types.Datum, error) {
	d, err := makeDate(a[0].(int64), a[1].(int64), a[2].(int64))
	if err != nil {
		return nil, err
	}
	t, err := makeTime(a[3].(int64), a[4].(int64), a[5].(float64))
	if err != nil {
		return nil, err
	}
	return checkTS(d.(int64)*dayUS + t.(int64))
}

func makeInterval(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
	get := func(i int) int64 {
		if i < len(a) {
			return a[i].(int64)
		}
		return 0
	}
	secs := 0.0
	if len(a) > 6 {
		secs = a[6].(float64)
	}
	if math.IsInf(secs, 0) || math.IsNaN(secs) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	months := get(0)*12 + get(1)
	days := get(2)*7 + get(3)
	us := get(4)*types.MicrosPerHour + get(5)*types.MicrosPerMinute + int64(math.RoundToEven(secs*1e6))
	if months != int64(int32(months)) || days != int64(int32(days)) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	return types.IntervalValue{Months: int32(months), Days: int32(days), Micros: us}, nil
}

// age is Postgres' timestamp_age: field-wise differences with borrowing.
func age(t1, t2 int64) (types.Datum, error) {
	if isInf(t1) || isInf(t2) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "cannot subtract infinite timestamps")
	}
	a, b := splitMicros(t1), splitMicros(t2)
	usec := a.usec - b.usec
	sec := a.sec - b.sec
	mi := a.min - b.min
	hour := a.hour - b.hour
	mday := a.mday - b.mday
	mon := a.mon - b.mon
	year := a.year - b.year
	neg := t1 < t2
	if neg {
		usec, sec, mi, hour, mday, mon, year = -usec, -sec, -mi, -hour, -mday, -mon, -year
	}
	for usec < 0 {
		usec += types.MicrosPerSecond
		sec--
	}
	for sec < 0 {
		sec += 60
		mi--
	}
	for mi < 0 {
		mi += 60
		hour--
	}
	for hour < 0 {
		hour += 24
		mday--
	}
	for mday < 0 {
		if neg {
			mday += daysInMonth(a.year, a.mon)
		} else {
			mday += daysInMonth(b.year, b.mon)
		}
		mon--
	}
	for mon < 0 {
		mon += 12
		year--
	}
	if neg {
		usec, sec, mi, hour, mday, mon, year = -usec, -sec, -mi, -hour, -mday, -mon, -year
	}
	return types.IntervalValue{
		Months: int32(year*12 + mon),
		Days:   int32(mday),
		Micros: hour*types.MicrosPerHour + mi*types.MicrosPerMinute + sec*types.MicrosPerSecond + usec,
	}, nil
}

// ---- date_trunc ----

var truncUnits = map[string]string{
	"microseconds": "microseconds", "microsecond": "microseconds", "us": "microseconds", "usec": "microseconds", "usecs": "microseconds",
	"milliseconds": "milliseconds", "millisecond": "milliseconds", "ms": "milliseconds", "msec": "milliseconds", "msecs": "milliseconds",
	"second": "second", "seconds": "second", "s": "second", "sec": "second", "secs": "second",
	"minute": "minute", "minutes": "minute", "m": "minute", "min": "minute", "mins": "minute",
	"hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour",
	"day": "day", "days": "day", "d": "day",
	"week": "week", "weeks": "week", "w": "week",
	"month": "month", "months": "month", "mon": "month", "mons": "month",
	"quarter": "quarter", "qtr": "quarter",
	"year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year",
	"decade": "decade", "decades": "decade", "dec": "decade", "decs": "decade",
	"century": "century", "centuries": "century", "c": "century", "cent": "century",
	"millennium": "millennium", "millennia": "millennium", "mil": "millennium", "mils": "millennium", "millenniums": "millennium",
}

func truncUnit(s string, t *types.T) (string, error) {
	u, ok := truncUnits[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return "", errInvalidParam("unit \"%s\" not recognized for type %s", strings.ToLower(s), t.String())
	}
	return u, nil
}

func truncFields(unit string, f *tmFields) {
	switch unit {
	case "millennium":
		if f.year > 0 {
			f.year = (f.year+999)/1000*1000 - 999
		} else {
			f.year = -((999 - (f.year - 1)) / 1000 * 1000) + 1
		}
		fallthrough
	case "century":
		if unit == "century" {
			if f.year > 0 {
				f.year = (f.year+99)/100*100 - 99
			} else {
				f.year = -((99 - (f.year - 1)) / 100 * 100) + 1
			}
		}
		fallthrough
	case "decade":
		if unit == "decade" {
			if f.year > 0 {
				f.year = f.year / 10 * 10
			} else {
				f.year = -((8 - (f.year - 1)) / 10 * 10)
			}
		}
		fallthrough
	case "year":
		f.mon = 1
		fallthrough
	case "quarter":
		f.mon = 3*((f.mon-1)/3) + 1
		fallthrough
	case "month":
		f.mday = 1
		fallthrough
	case "day":
		f.hour = 0
		fallthrough
	case "hour":
		f.min = 0
		fallthrough
	case "minute":
		f.sec = 0
		fallthrough
	case "second":
		f.usec = 0
	case "milliseconds":
		f.usec = f.usec / 1000 * 1000
	case "week":
		days := types.DaysFromCivil(f.year, f.mon, f.mday)
		days -= floorMod64(days+3, 7) // 1970-01-01 was a Thursday; weeks start Monday
		f.year, f.mon, f.mday = types.CivilFromDays(days)
		f.hour, f.min, f.sec, f.usec = 0, 0, 0, 0
	}
}

func truncTimestamp(unit string, us int64, loc *time.Location) (types.Datum, error) {
	if isInf(us) {
		return us, nil
	}
	local := us
	if loc != nil {
		local = toLocal(us, loc)
	}
	f := splitMicros(local)
	truncFields(unit, &f)
	local = f.micros()
	if loc != nil {
		return fromLocal(local, loc), nil
	}
	return local, nil
}

// dateTruncVec truncates a timestamp vector; a constant unit with a fixed
// step (day and below, on timestamp) runs as integer arithmetic.
func dateTruncVec(tz bool) VecFunc {
	typ := types.Timestamp
	if tz {
		typ = types.TimestampTZ
	}
	return func(ctx *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		u, src := args[0], args[1]
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, u, src)
		var loc *time.Location
		if tz {
			loc = cfgOf(ctx).Location
		}
		lastRaw, unit := "", ""
		for i := 0; i < n; i++ {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			if unit == "" || u.Bytes[i] != lastRaw {
				var err error
				if unit, err = truncUnit(u.Bytes[i], typ); err != nil {
					return nil, err
				}
				lastRaw = u.Bytes[i]
			}
			x := src.Ints[i]
			if step := fixedStep(unit); step > 0 && !isInf(x) && (loc == nil || loc == time.UTC || step < types.MicrosPerHour) {
				o.Ints[i] = x - floorMod64(x, step)
				continue
			}
			d, err := truncTimestamp(unit, x, loc)
			if err != nil {
				return nil, err
			}
			o.Ints[i] = d.(int64)
		}
		return o, nil
	}
}

func fixedStep(unit string) int64 {
	switch unit {
	case "microseconds":
		return 1
	case "milliseconds":
		return 1000
	case "second":
		return types.MicrosPerSecond
	case "minute":
		return types.MicrosPerMinute
	case "hour":
		return types.MicrosPerHour
	case "day":
		return dayUS
	}
	return 0
}

func truncInterval(unitStr string, iv types.IntervalValue) (types.Datum, error) {
	unit, err := truncUnit(unitStr, types.Interval)
	if err != nil {
		return nil, err
	}
	if unit == "week" {
		return nil, sqlerr.Unsupported("unit \"week\" not supported for type interval").WithDetail("Months usually have fractional weeks.")
	}
	year, mon := int64(iv.Months)/12, int64(iv.Months)%12
	day := int64(iv.Days)
	t := iv.Micros
	switch unit {
	case "millennium":
		year = year / 1000 * 1000
		mon = 0
	case "century":
		year = year / 100 * 100
		mon = 0
	case "decade":
		year = year / 10 * 10
		mon = 0
	case "year":
		mon = 0
	case "quarter":
		mon = 3 * (mon / 3)
	}
	switch unit {
	case "millennium", "century", "decade", "year", "quarter", "month":
		day, t = 0, 0
	case "day":
		t = 0
	case "hour":
		t -= t % types.MicrosPerHour
	case "minute":
		t -= t % types.MicrosPerMinute
	case "second":
		t -= t % types.MicrosPerSecond
	case "milliseconds":
		t -= t % 1000
	}
	return types.IntervalValue{Months: int32(year*12 + mon), Days: int32(day), Micros: t}, nil
}

func dateBin(stride types.IntervalValue, src, origin int64) (types.Datum, error) {
	if isInf(src) {
		return src, nil
	}
	if isInf(origin) {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "origin out of range")
	}
	if stride.Months != 0 {
		return nil, sqlerr.Unsupported("timestamps cannot be binned into intervals containing months or years")
	}
	s := int64(stride.Days)*dayUS + stride.Micros
	if s <= 0 {
		return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "stride must be greater than zero")
	}
	diff := src - origin
	return checkTS(src - floorMod64(diff, s))
}

// ---- extract / date_part ----

var extractUnits = map[string]string{
	"epoch": "epoch", "julian": "julian", "j": "julian", "dow": "dow", "isodow": "isodow", "doy": "doy",
	"isoyear": "isoyear", "timezone": "timezone", "timezone_h": "timezone_hour", "timezone_hour": "timezone_hour",
	"timezone_m": "timezone_minute", "timezone_minute": "timezone_minute",
}

func extractUnit(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if u, ok := truncUnits[s]; ok {
		if u == "week" {
			return "week"
		}
		return u
	}
	return extractUnits[s]
}

// extractResult holds a field value as an integer scaled by 10^scale.
type extractResult struct {
	v     int64
	scale int32
	inf   int // ±1 for ±Infinity results
	null  bool
	dec   *apd.Decimal // for results that are not scaled integers (julian)
}

func extractVec(src *types.T, numeric bool) VecFunc {
	return func(ctx *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		u, x := args[0], args[1]
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, u, x)
		lastRaw, unit := "", ""
		loc := cfgOf(ctx).Location
		for i := 0; i < n; i++ {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			if unit == "" || u.Bytes[i] != lastRaw {
				lastRaw = u.Bytes[i]
				unit = extractUnit(lastRaw)
				if unit == "" {
					return nil, errInvalidParam("unit \"%s\" not recognized for type %s", strings.ToLower(lastRaw), src.String())
				}
			}
			var res extractResult
			var err error
			if src.Family == types.IntervalFamily {
				res, err = extractInterval(unit, x.Ivals[i])
			} else {
				res, err = extractTime(unit, src, x.Ints[i], loc)
			}
			if err != nil {
				return nil, err
			}
			if res.null {
				o.SetNull(i)
				continue
			}
			if numeric {
				d := &o.Decs[i]
				switch {
				case res.inf != 0:
					d.Form = apd.Infinite
					d.Negative = res.inf < 0
				case res.dec != nil:
					d.Set(res.dec)
				default:
					d.SetFinite(res.v, -res.scale)
				}
			} else {
				switch {
				case res.inf != 0:
					o.Floats[i] = math.Inf(res.inf)
				case res.dec != nil:
					o.Floats[i], _ = res.dec.Float64()
				default:
					o.Floats[i] = float64(res.v) / math.Pow10(int(res.scale))
				}
			}
		}
		return o, nil
	}
}

func errUnitNotSupported(unit string, t *types.T) error {
	return sqlerr.Unsupported("unit \"%s\" not supported for type %s", unit, t.String())
}

func isoWeek(days int64) (year, week int64) {
	y, m, d := types.CivilFromDays(days)
	t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	yy, ww := t.ISOWeek()
	return int64(yy), int64(ww)
}

func extractTime(unit string, src *types.T, x int64, loc *time.Location) (extractResult, error) {
	var f tmFields
	var gmtoff int64
	isDate := src.Family == types.DateFamily
	isTime := src.Family == types.TimeFamily
	tz := src.Family == types.TimestampTZFamily
	if isInf(x) && !isTime {
		sign := 1
		if x == types.NegInfinity {
			sign = -1
		}
		switch unit {
		case "epoch", "julian", "year", "isoyear", "decade", "century", "millennium":
			return extractResult{inf: sign}, nil
		}
		if isDate && (unit == "hour" || unit == "minute" || unit == "second" || unit == "milliseconds" || unit == "microseconds" || strings.HasPrefix(unit, "timezone")) {
			return extractResult{}, errUnitNotSupported(unit, src)
		}
		return extractResult{null: true}, nil
	}
	switch {
	case isDate:
		f.year, f.mon, f.mday = types.CivilFromDays(x)
	case isTime:
		f = splitMicros(x)
	case tz:
		gmtoff = zoneOffsetAt(x, loc)
		f = splitMicros(x + gmtoff*types.MicrosPerSecond)
	default:
		f = splitMicros(x)
	}
	iv := func(v int64) (extractResult, error) { return extractResult{v: v}, nil }
	// Fields of the time of day.
	switch unit {
	case "hour", "minute", "second", "milliseconds", "microseconds":
		if isDate {
			return extractResult{}, errUnitNotSupported(unit, src)
		}
		switch unit {
		case "hour":
			return iv(f.hour)
		case "minute":
			return iv(f.min)
		case "second":
			return extractResult{v: f.sec*1_000_000 + f.usec, scale: 6}, nil
		case "milliseconds":
			return extractResult{v: f.sec*1_000_000 + f.usec, scale: 3}, nil
		default:
			return iv(f.sec*1_000_000 + f.usec)
		}
	case "epoch":
		switch {
		case isDate:
			return iv(x * 86400)
		case isTime:
			return extractResult{v: x, scale: 6}, nil
		}
		return extractResult{v: x, scale: 6}, nil
	case "timezone", "timezone_hour", "timezone_minute":
		if !tz {
			return extractResult{}, errUnitNotSupported(unit, src)
		}
		switch unit {
		case "timezone":
			return iv(gmtoff)
		case "timezone_hour":
			return iv(gmtoff / 3600)
		}
		return iv(gmtoff / 60 % 60)
	}
	if isTime {
		return extractResult{}, errUnitNotSupported(unit, src)
	}
	days := types.DaysFromCivil(f.year, f.mon, f.mday)
	switch unit {
	case "year":
		if f.year <= 0 {
			return iv(f.year - 1)
		}
		return iv(f.year)
	case "month":
		return iv(f.mon)
	case "day":
		return iv(f.mday)
	case "quarter":
		return iv((f.mon-1)/3 + 1)
	case "week":
		_, w := isoWeek(days)
		return iv(w)
	case "isoyear":
		y, _ := isoWeek(days)
		if y <= 0 {
			y--
		}
		return iv(y)
	case "dow":
		return iv(floorMod64(days+4, 7))
	case "isodow":
		d := floorMod64(days+4, 7)
		if d == 0 {
			d = 7
		}
		return iv(d)
	case "doy":
		return iv(days - types.DaysFromCivil(f.year, 1, 1) + 1)
	case "decade":
		if f.year >= 0 {
			return iv(f.year / 10)
		}
		return iv(-((8 - (f.year - 1)) / 10))
	case "century":
		if f.year > 0 {
			return iv((f.year + 99) / 100)
		}
		return iv(-((99 - (f.year - 1)) / 100))
	case "millennium":
		if f.year > 0 {
			return iv((f.year + 999) / 1000)
		}
		return iv(-((999 - (f.year - 1)) / 1000))
	case "julian":
		j := days + 2440588
		if isDate {
			return iv(j)
		}
		tod := f.hour*types.MicrosPerHour + f.min*types.MicrosPerMinute + f.sec*types.MicrosPerSecond + f.usec
		frac, err := DecimalDiv(apd.New(tod, 0), apd.New(dayUS, 0))
		if err != nil {
			return extractResult{}, err
		}
		res := new(apd.Decimal)
		_, _ = DecimalCtx.Add(res, apd.New(j, 0), frac)
		return extractResult{dec: res}, nil
	}
	return extractResult{}, errUnitNotSupported(unit, src)
}

func extractInterval(unit string, v types.IntervalValue) (extractResult, error) {
	iv := func(x int64) (extractResult, error) { return extractResult{v: x}, nil }
	year := int64(v.Months) / 12
	switch unit {
	case "microseconds":
		return iv(v.Micros % types.MicrosPerMinute)
	case "milliseconds":
		return extractResult{v: v.Micros % types.MicrosPerMinute, scale: 3}, nil
	case "second":
		return extractResult{v: v.Micros % types.MicrosPerMinute, scale: 6}, nil
	case "minute":
		return iv(v.Micros / types.MicrosPerMinute % 60)
	case "hour":
		return iv(v.Micros / types.MicrosPerHour)
	case "day":
		return iv(int64(v.Days))
	case "month":
		return iv(int64(v.Months) % 12)
	case "quarter":
		return iv(int64(v.Months)%12/3 + 1)
	case "year":
		return iv(year)
	case "decade":
		return iv(year / 10)
	case "century":
		return iv(year / 100)
	case "millennium":
		return iv(year / 1000)
	case "epoch":
		// Postgres: years count 365.25 days, leftover months 30 days.
		secs := new(apd.Decimal)
		yearsSecs := apd.New(year*36525*864, 0) // 365.25 * 86400 * year
		rest := (int64(v.Months)%12*30+int64(v.Days))*86400*1_000_000 + v.Micros
		_, _ = DecimalCtx.Add(secs, yearsSecs, apd.New(rest, -6))
		r := RoundDecimal(secs, 6)
		return extractResult{dec: r}, nil
	}
	return extractResult{}, errUnitNotSupported(unit, types.Interval)
}
