package format

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sqlerr"
)

// User-facing errors of the format package. Compile's errors are about the
// stream's options (22023 invalid_parameter_value, 42704 undefined_object,
// 42703 undefined_column); Decode's errors are about one record and become
// its dead-letter reason: they name the column and quote the value.

// ErrSkip is returned by Decode, with nothing appended, for a record that
// carries no row: a CSV header line under csv_header = 'true'. The caller
// drops such a record silently (no dead letter).
var ErrSkip = errors.New("format: record is not a row")

// SQLSTATEs sqlerr does not name.
const (
	untranslatableCharacter = "22P05" // a \u0000 escape in text
	connectionException     = "08000" // the schema registry cannot be reached
)

func errOption(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidParameterValue, format, args...)
}

func errUndefined(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.UndefinedObject, format, args...)
}

// errRecord is a record-level error (malformed bytes, wrong framing).
func errRecord(code, format string, args ...any) *sqlerr.Error {
	return sqlerr.New(code, format, args...)
}

// errColumn wraps a value error with the column it was meant for, keeping
// its SQLSTATE.
func errColumn(name string, err error) error {
	if e, ok := sqlerr.As(err); ok {
		return &sqlerr.Error{Code: e.Code, Message: fmt.Sprintf("column \"%s\": %s", name, e.Message), Detail: e.Detail, Hint: e.Hint}
	}
	return sqlerr.New(sqlerr.DataException, "column \"%s\": %v", name, err)
}

// maxQuoted bounds how much of a value an error message quotes.
const maxQuoted = 64

// quote returns b for an error message: at most maxQuoted bytes, cut on a
// rune boundary, with invalid UTF-8 shown as escapes.
func quote(b []byte) string {
	cut := len(b) > maxQuoted
	if cut {
		n := maxQuoted
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		b = b[:n]
	}
	s := string(b)
	if !utf8.ValidString(s) {
		s = fmt.Sprintf("%q", s)
		s = s[1 : len(s)-1]
	}
	if cut {
		s += "..."
	}
	return s
}
