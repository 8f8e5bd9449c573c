package types

import (
	"strings"
	"time"
)

// Config holds the session settings that change how values are read and printed.
type Config struct {
	// Location is the session TimeZone (timestamptz input without an offset and
	// all timestamptz output use it).
	Location *time.Location
	// ExtraFloatDigits is the extra_float_digits setting (default 1: shortest
	// exact output; <= 0: %.15g / %.6g style rounding as Postgres does).
	ExtraFloatDigits int
	// DateStyle is the output style and input field order of dates.
	DateStyle DateStyle
	// IntervalStyle is the output style of intervals.
	IntervalStyle IntervalStyle
	// Now is the statement's start time, for the 'now' / 'today' literals.
	Now time.Time
	// Names, when set, reads and prints regclass, regproc, regnamespace and
	// regrole values as names (the session sets it to its catalog view).
	Names Names
}

// DefaultConfig is UTC with Postgres' default float output.
func DefaultConfig() *Config { return &Config{Location: time.UTC, ExtraFloatDigits: 1} }

// IntervalStyle is the IntervalStyle setting: how intervals print.
type IntervalStyle uint8

const (
	IntervalPostgres        IntervalStyle = iota // 1 year 2 mons 3 days 04:05:06
	IntervalPostgresVerbose                      // @ 1 year 2 mons 3 days 4 hours 5 mins 6 secs
	IntervalSQLStandard                          // +1-2 +3 +4:05:06
	IntervalISO8601                              // P1Y2M3DT4H5M6S
)

// ParseIntervalStyle reads an IntervalStyle value (case-insensitive).
func ParseIntervalStyle(v string) (IntervalStyle, bool) {
	for st, name := range intervalStyleNames {
		if strings.EqualFold(v, name) {
			return IntervalStyle(st), true
		}
	}
	return 0, false
}

var intervalStyleNames = [...]string{"postgres", "postgres_verbose", "sql_standard", "iso_8601"}

func (st IntervalStyle) String() string { return intervalStyleNames[st] }
