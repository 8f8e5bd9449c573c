package types

// Datum is one SQL value in its Go form; nil is SQL NULL. The Go type follows
// the value's T.Phys(): bool, int64, float64, *apd.Decimal, string, Interval,
// or *Array for arrays. Datums appear at row boundaries (storage, wire, constants);
// hot loops work on coldata.Vec instead.
type Datum = any

// IntervalValue is a Postgres interval: months, days and microseconds are kept
// apart because their lengths vary (a month is not 30 days, a day not always 24 h).
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// Array is a one-dimensional SQL array; elements are Datums of Elem (nil for NULL).
type Array struct {
	Elem  *T
	Elems []Datum
}

// Time constants in microseconds.
const (
	MicrosPerSecond = int64(1_000_000)
	MicrosPerMinute = 60 * MicrosPerSecond
	MicrosPerHour   = 60 * MicrosPerMinute
	MicrosPerDay    = 24 * MicrosPerHour
)

// Infinite timestamps and dates are stored as the extremes of int64.
const (
	PosInfinity = int64(1<<63 - 1)
	NegInfinity = -PosInfinity - 1
)
