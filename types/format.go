package types

import "time"

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
	// Now is the statement's start time, for the 'now' / 'today' literals.
	Now time.Time
	// Names, when set, reads and prints regclass, regproc, regnamespace and
	// regrole values as names (the session sets it to its catalog view).
	Names Names
}

// DefaultConfig is UTC with Postgres' default float output.
func DefaultConfig() *Config { return &Config{Location: time.UTC, ExtraFloatDigits: 1} }
