package types

import (
	"github.com/sluice-db/sluice/sqlerr"
)

// User-facing errors of the type system. Messages follow PostgreSQL 16 exactly.

func errInvalidSyntax(typ, s string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", typ, s)
}

func errOutOfRangeFor(s, typ string) *sqlerr.Error {
	return sqlerr.New(sqlerr.NumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, typ)
}

func errFloatOutOfRange(s, typ string) *sqlerr.Error {
	return sqlerr.New(sqlerr.NumericValueOutOfRange, "\"%s\" is out of range for type %s", s, typ)
}

func errDatetimeSyntax(typ, s string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidDatetimeFormat, "invalid input syntax for type %s: \"%s\"", typ, s)
}

func errDatetimeRange(s string) *sqlerr.Error {
	return sqlerr.New(sqlerr.DatetimeFieldOverflow, "date/time field value out of range: \"%s\"", s)
}

func errBinary(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidBinaryRepresentation, format, args...)
}

func errIntRange(t *T) *sqlerr.Error {
	switch t.Oid {
	case OidInt2:
		return sqlerr.New(sqlerr.NumericValueOutOfRange, "smallint out of range")
	case OidInt8:
		return sqlerr.New(sqlerr.NumericValueOutOfRange, "bigint out of range")
	case OidOid, OidRegclass, OidRegtype, OidRegproc, OidRegnamespace, OidRegprocedure, OidRegrole, OidRegoper, OidRegoperator, OidXid:
		return sqlerr.New(sqlerr.NumericValueOutOfRange, "OID out of range")
	}
	return sqlerr.New(sqlerr.NumericValueOutOfRange, "integer out of range")
}

func errZone(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "time zone \"%s\" not recognized", name)
}
