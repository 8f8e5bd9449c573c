package sqlerr

import (
	"errors"
	"fmt"
)

// SQLSTATE codes used across Sluice.
const (
	SuccessfulCompletion           = "00000"
	Warning                        = "01000"
	FeatureNotSupported            = "0A000"
	CardinalityViolation           = "21000"
	DataException                  = "22000"
	StringDataRightTruncation      = "22001"
	NumericValueOutOfRange         = "22003"
	NullValueNotAllowed            = "22004"
	InvalidDatetimeFormat          = "22007"
	DatetimeFieldOverflow          = "22008"
	InvalidTimeZone                = "22023"
	InvalidParameterValue          = "22023"
	DivisionByZero                 = "22012"
	InvalidEscapeSequence          = "22025"
	InvalidTextRepresentation      = "22P02"
	InvalidBinaryRepresentation    = "22P03"
	BadCopyFileFormat              = "22P04"
	InvalidRegularExpression       = "2201B"
	InvalidArgumentForLog          = "2201E"
	InvalidArgumentForPower        = "2201F"
	ArraySubscriptError            = "2202E"
	InvalidJSONText                = "22032"
	GeneratedAlways                = "428C9"
	SequenceGeneratorLimitExceeded = "2200H"
	CharacterNotInRepertoire       = "22021"
	IntegrityConstraint            = "23000"
	NotNullViolation               = "23502"
	ForeignKeyViolation            = "23503"
	UniqueViolation                = "23505"
	CheckViolation                 = "23514"
	InvalidTransactionState        = "25000"
	ActiveSQLTransaction           = "25001"
	NoActiveSQLTransaction         = "25P01"
	InFailedSQLTransaction         = "25P02"
	ReadOnlySQLTransaction         = "25006"
	LockNotAvailable               = "55P03"
	InvalidSQLStatementName        = "26000"
	InvalidCursorName              = "34000"
	InvalidPassword                = "28P01"
	InvalidAuthorization           = "28000"
	SyntaxError                    = "42601"
	InsufficientPrivilege          = "42501"
	UndefinedColumn                = "42703"
	UndefinedFunction              = "42883"
	UndefinedTable                 = "42P01"
	UndefinedObject                = "42704"
	UndefinedParameter             = "42P02"
	UndefinedSchema                = "3F000"
	DuplicateTable                 = "42P07"
	DuplicateSchema                = "42P06"
	DuplicateDatabase              = "42P04"
	DuplicateObject                = "42710"
	DuplicateColumn                = "42701"
	DuplicatePreparedStatement     = "42P05"
	DuplicateCursor                = "42P03"
	AmbiguousColumn                = "42702"
	AmbiguousFunction              = "42725"
	AmbiguousParameter             = "42P08"
	DatatypeMismatch               = "42804"
	CannotCoerce                   = "42846"
	GroupingError                  = "42803"
	WindowingError                 = "42P20"
	InvalidColumnReference         = "42P10"
	InvalidName                    = "42602"
	WrongObjectType                = "42809"
	InvalidTableDefinition         = "42P16"
	InvalidObjectDefinition        = "42P17"
	InvalidColumnDefinition        = "42611"
	UndefinedPreparedStatement     = "26000"
	ProtocolViolation              = "08P01"
	ConnectionFailure              = "08006"
	QueryCanceled                  = "57014"
	AdminShutdown                  = "57P01"
	ProgramLimitExceeded           = "54000"
	OutOfMemory                    = "53200"
	InternalError                  = "XX000"
	DataCorrupted                  = "XX001"
	ConfigFileError                = "F0000"
	InvalidCatalogName             = "3D000"
	ObjectInUse                    = "55006"
	ObjectNotInPrerequisiteState   = "55000"
	DependentObjectsStillExist     = "2BP01"
	SerializationFailure           = "40001"
	ReservedName                   = "42939"
	TooManyConnections             = "53300"
)

// Error is a user-facing SQL error.
type Error struct {
	Code     string
	Severity string // ERROR (default), FATAL, WARNING, NOTICE
	Message  string
	Detail   string
	Hint     string
	// Position is the 1-based character offset in the statement text, 0 if unknown.
	Position int
	// Internal position offsets are relative to the statement; the engine adds
	// the statement's offset in a multi-statement query string before reporting.
	cause error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.cause }

// New returns an error with the given SQLSTATE and formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the given SQLSTATE whose message is the cause's.
func Wrap(code string, cause error) *Error {
	return &Error{Code: code, Message: cause.Error(), cause: cause}
}

// WithHint returns e with a hint.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithDetail returns e with a detail line.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// At returns e with a position (1-based; 0 leaves it unset). The first position
// set wins, so an inner, more precise position is kept.
func (e *Error) At(pos int) *Error {
	if e.Position == 0 && pos > 0 {
		e.Position = pos
	}
	return e
}

// As extracts the *Error from err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Code returns err's SQLSTATE (XX000 for errors that are not *Error).
func Code(err error) string {
	if e, ok := As(err); ok {
		return e.Code
	}
	return InternalError
}

// Bug reports a broken invariant in Sluice's own code.
func Bug(format string, args ...any) *Error {
	return &Error{Code: InternalError, Message: "[BUG] " + fmt.Sprintf(format, args...)}
}

// Unsupported reports a valid Postgres construct that Sluice does not implement.
func Unsupported(format string, args ...any) *Error {
	return New(FeatureNotSupported, format, args...)
}
