package datagen

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/types"
)

// OptionNames lists the stream WITH options the generator source reads.
func OptionNames() []string {
	return []string{"generator", "rate", "seed", "events", "disorder", "late_fraction", "late_by", "start_time"}
}

// Defaults of the options.
const (
	DefaultRate         = 1000
	DefaultDisorder     = 2 * time.Second
	DefaultLateFraction = 0.001
	DefaultLateBy       = 2 * time.Minute
)

// Options are a generator stream's settings.
type Options struct {
	Generator *Generator
	// Rate is events per second; 0 generates as fast as the stream takes
	// them.
	Rate float64
	Seed uint64
	// Events stops the source after that many events; 0 never stops.
	Events int64
	// Disorder bounds how far behind its emission time an event's time may
	// be; LateFraction of the events are LateBy later still.
	Disorder     time.Duration
	LateFraction float64
	LateBy       time.Duration
	// StartTime, when set, is event 0's time: event n's is StartTime +
	// n/Rate whenever it is made, so streams with one StartTime share a
	// timeline (Nexmark's person, auction and bid streams), and the events
	// come as fast as the stream takes them (a replay; Rate only spaces
	// their times). Zero: event times follow the wall clock of the
	// schedule, paced at Rate.
	StartTime time.Time
}

// ParseOptions reads a generator stream's WITH options.
func ParseOptions(opts map[string]string) (*Options, error) {
	o := &Options{Rate: DefaultRate, Disorder: DefaultDisorder, LateFraction: DefaultLateFraction, LateBy: DefaultLateBy}
	name, ok := opts["generator"]
	if !ok || name == "" {
		return nil, errGeneratorNeeded()
	}
	if o.Generator = Lookup(strings.ToLower(name)); o.Generator == nil {
		return nil, errUnknownGenerator(name)
	}
	if v, ok := opts["rate"]; ok {
		if strings.EqualFold(strings.TrimSpace(v), "max") {
			o.Rate = 0
		} else if r, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return nil, badOption("rate", v, "expected events per second (a number ≥ 0), or 'max'")
		} else {
			o.Rate = r
		}
	}
	if v, ok := opts["seed"]; ok {
		s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, badOption("seed", v, "expected an integer")
		}
		o.Seed = uint64(s)
	}
	if v, ok := opts["events"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			return nil, badOption("events", v, "expected a positive number of events")
		}
		o.Events = n
	}
	if v, ok := opts["late_fraction"]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return nil, badOption("late_fraction", v, "expected a fraction between 0 and 1")
		}
		o.LateFraction = f
	}
	var err error
	if o.Disorder, err = durationOption(opts, "disorder", o.Disorder); err != nil {
		return nil, err
	}
	if o.LateBy, err = durationOption(opts, "late_by", o.LateBy); err != nil {
		return nil, err
	}
	if v, ok := opts["start_time"]; ok {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err != nil {
			return nil, badOption("start_time", v, "expected an RFC 3339 time such as '2026-01-01T00:00:00Z'")
		}
		if o.Rate == 0 {
			return nil, badOption("start_time", v, "needs a rate: event n's time is start_time + n/rate")
		}
		o.StartTime = t
	}
	return o, nil
}

// durationOption reads an interval option ('5 seconds', '00:02:00'); a day
// is 24 hours and months are refused, as in window sizes.
func durationOption(opts map[string]string, name string, def time.Duration) (time.Duration, error) {
	v, ok := opts[name]
	if !ok {
		return def, nil
	}
	us, err := types.DurationMicros(v)
	if err != nil {
		return 0, badOption(name, v, "expected a non-negative interval without months, such as '5 seconds'")
	}
	return time.Duration(us) * time.Microsecond, nil
}
