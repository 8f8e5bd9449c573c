package types

import (
	"fmt"
	"sort"
)

// Family groups types that share operators and casting rules.
type Family uint8

const (
	UnknownFamily Family = iota
	BoolFamily
	IntFamily
	FloatFamily
	NumericFamily
	StringFamily
	BytesFamily
	UUIDFamily
	DateFamily
	TimeFamily
	TimestampFamily
	TimestampTZFamily
	IntervalFamily
	JSONFamily
	ArrayFamily
	OidFamily
	RecordFamily
)

// Phys is the in-memory layout of a value (see coldata.Vec and Datum).
type Phys uint8

const (
	PhysDatum    Phys = iota // any: arrays, unknown
	PhysBool                 // bool
	PhysInt                  // int64: ints, oids, date (days since 1970-01-01), time (µs since midnight), timestamp[tz] (µs since 1970-01-01 UTC)
	PhysFloat                // float64
	PhysDecimal              // *apd.Decimal
	PhysBytes                // string: text, varchar, char, name, bytea (raw bytes), uuid (16 raw bytes), json, jsonb (normalised text)
	PhysInterval             // Interval
)

// Postgres type OIDs (pg_type.oid).
const (
	OidBool         uint32 = 16
	OidBytea        uint32 = 17
	OidChar         uint32 = 18 // "char", one byte
	OidName         uint32 = 19
	OidInt8         uint32 = 20
	OidInt2         uint32 = 21
	OidInt4         uint32 = 23
	OidRegproc      uint32 = 24
	OidText         uint32 = 25
	OidOid          uint32 = 26
	OidJSON         uint32 = 114
	OidFloat4       uint32 = 700
	OidFloat8       uint32 = 701
	OidUnknown      uint32 = 705
	OidBPChar       uint32 = 1042
	OidVarchar      uint32 = 1043
	OidDate         uint32 = 1082
	OidTime         uint32 = 1083
	OidTimestamp    uint32 = 1114
	OidTimestampTZ  uint32 = 1184
	OidInterval     uint32 = 1186
	OidNumeric      uint32 = 1700
	OidRegclass     uint32 = 2205
	OidRegtype      uint32 = 2206
	OidUUID         uint32 = 2950
	OidJSONB        uint32 = 3802
	OidRegnamespace uint32 = 4089
	OidVoid         uint32 = 2278
	// Catalog column types: int2vector and oidvector are arrays whose
	// subscripts start at 0 and whose text form separates elements by spaces;
	// pg_node_tree holds an expression (in Sluice: its SQL text, see
	// pg_get_expr); xid is a transaction id.
	OidInt2Vector   uint32 = 22
	OidOidVector    uint32 = 30
	OidXid          uint32 = 28
	OidPgNodeTree   uint32 = 194
	OidRegprocedure uint32 = 2202
	OidRegoper      uint32 = 2203
	OidRegoperator  uint32 = 2204
	OidRegrole      uint32 = 4096

	OidBoolArray        uint32 = 1000
	OidByteaArray       uint32 = 1001
	OidInt2Array        uint32 = 1005
	OidInt4Array        uint32 = 1007
	OidTextArray        uint32 = 1009
	OidBPCharArray      uint32 = 1014
	OidVarcharArray     uint32 = 1015
	OidInt8Array        uint32 = 1016
	OidFloat4Array      uint32 = 1021
	OidFloat8Array      uint32 = 1022
	OidOidArray         uint32 = 1028
	OidTimestampArray   uint32 = 1115
	OidDateArray        uint32 = 1182
	OidTimeArray        uint32 = 1183
	OidTimestampTZArray uint32 = 1185
	OidIntervalArray    uint32 = 1187
	OidNumericArray     uint32 = 1231
	OidUUIDArray        uint32 = 2951
	OidJSONArray        uint32 = 199
	OidJSONBArray       uint32 = 3807
	OidNameArray        uint32 = 1003
	OidCharArray        uint32 = 1002
	OidInt2VectorArray  uint32 = 1006
	OidOidVectorArray   uint32 = 1013
	OidXidArray         uint32 = 1011
	OidRegprocArray     uint32 = 1008
	OidRegclassArray    uint32 = 2210
	OidRegtypeArray     uint32 = 2211
)

// T describes a SQL type. Values of T are compared with Equal; the predefined
// pointers below are shared and must not be modified.
type T struct {
	Family Family
	Oid    uint32
	// Width is the declared length of varchar(n)/char(n) or the precision of
	// numeric(p,s); 0 means unconstrained.
	Width int32
	// Scale is the scale of numeric(p,s); meaningful only when Width > 0.
	Scale int32
	// Elem is the element type of an array.
	Elem *T
	// Fields are the fields of a record type (record.go).
	Fields []Field
}

var (
	Unknown      = &T{Family: UnknownFamily, Oid: OidUnknown}
	Bool         = &T{Family: BoolFamily, Oid: OidBool}
	Int2         = &T{Family: IntFamily, Oid: OidInt2}
	Int4         = &T{Family: IntFamily, Oid: OidInt4}
	Int8         = &T{Family: IntFamily, Oid: OidInt8}
	Float4       = &T{Family: FloatFamily, Oid: OidFloat4}
	Float8       = &T{Family: FloatFamily, Oid: OidFloat8}
	Numeric      = &T{Family: NumericFamily, Oid: OidNumeric}
	Text         = &T{Family: StringFamily, Oid: OidText}
	Varchar      = &T{Family: StringFamily, Oid: OidVarchar}
	BPChar       = &T{Family: StringFamily, Oid: OidBPChar}
	Name         = &T{Family: StringFamily, Oid: OidName}
	QChar        = &T{Family: StringFamily, Oid: OidChar}
	Bytea        = &T{Family: BytesFamily, Oid: OidBytea}
	UUID         = &T{Family: UUIDFamily, Oid: OidUUID}
	Date         = &T{Family: DateFamily, Oid: OidDate}
	Time         = &T{Family: TimeFamily, Oid: OidTime}
	Timestamp    = &T{Family: TimestampFamily, Oid: OidTimestamp}
	TimestampTZ  = &T{Family: TimestampTZFamily, Oid: OidTimestampTZ}
	Interval     = &T{Family: IntervalFamily, Oid: OidInterval}
	JSON         = &T{Family: JSONFamily, Oid: OidJSON}
	JSONB        = &T{Family: JSONFamily, Oid: OidJSONB}
	Oid          = &T{Family: OidFamily, Oid: OidOid}
	Regclass     = &T{Family: OidFamily, Oid: OidRegclass}
	Regtype      = &T{Family: OidFamily, Oid: OidRegtype}
	Regproc      = &T{Family: OidFamily, Oid: OidRegproc}
	Regnamespace = &T{Family: OidFamily, Oid: OidRegnamespace}
	Regprocedure = &T{Family: OidFamily, Oid: OidRegprocedure}
	Regrole      = &T{Family: OidFamily, Oid: OidRegrole}
	Regoper      = &T{Family: OidFamily, Oid: OidRegoper}
	Regoperator  = &T{Family: OidFamily, Oid: OidRegoperator}
	Xid          = &T{Family: OidFamily, Oid: OidXid}
	PgNodeTree   = &T{Family: StringFamily, Oid: OidPgNodeTree}
	Int2Vector   = &T{Family: ArrayFamily, Oid: OidInt2Vector, Elem: Int2}
	OidVector    = &T{Family: ArrayFamily, Oid: OidOidVector, Elem: Oid}
	// Void is the result of functions that return nothing (pg_advisory_lock);
	// its one value is the empty string, as Postgres prints it. It is a
	// pseudo-type (see pseudoTypes), not a base type: ByOid does not find it.
	Void = &T{Family: StringFamily, Oid: OidVoid}
)

// IsVector reports whether t is int2vector or oidvector: an array whose
// subscripts start at 0 and whose text form is its elements separated by
// spaces.
func (t *T) IsVector() bool { return t.Oid == OidInt2Vector || t.Oid == OidOidVector }

// IsReg reports whether t is one of the OID alias types (regclass, regtype,
// regproc, regprocedure, regnamespace, regrole), whose text forms are names.
func (t *T) IsReg() bool {
	switch t.Oid {
	case OidRegclass, OidRegtype, OidRegproc, OidRegprocedure, OidRegnamespace, OidRegrole, OidRegoper, OidRegoperator:
		return true
	}
	return false
}

// ArrayOf returns the one-dimensional array type of elem.
func ArrayOf(elem *T) *T {
	return &T{Family: ArrayFamily, Oid: arrayOid[elem.Oid], Elem: elem}
}

var arrayOid = map[uint32]uint32{
	OidBool: OidBoolArray, OidBytea: OidByteaArray, OidInt2: OidInt2Array, OidInt4: OidInt4Array,
	OidText: OidTextArray, OidBPChar: OidBPCharArray, OidVarchar: OidVarcharArray, OidInt8: OidInt8Array,
	OidFloat4: OidFloat4Array, OidFloat8: OidFloat8Array, OidOid: OidOidArray, OidTimestamp: OidTimestampArray,
	OidDate: OidDateArray, OidTime: OidTimeArray, OidTimestampTZ: OidTimestampTZArray, OidInterval: OidIntervalArray,
	OidNumeric: OidNumericArray, OidUUID: OidUUIDArray, OidJSON: OidJSONArray, OidJSONB: OidJSONBArray,
	OidName: OidNameArray, OidUnknown: OidTextArray, OidChar: OidCharArray, OidInt2Vector: OidInt2VectorArray,
	OidOidVector: OidOidVectorArray, OidXid: OidXidArray, OidRegproc: OidRegprocArray, OidRegclass: OidRegclassArray,
	OidRegtype: OidRegtypeArray, OidRecord: OidRecordArray,
}

// Phys returns the in-memory layout of the type's values.
func (t *T) Phys() Phys {
	switch t.Family {
	case BoolFamily:
		return PhysBool
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		return PhysInt
	case FloatFamily:
		return PhysFloat
	case NumericFamily:
		return PhysDecimal
	case StringFamily, BytesFamily, UUIDFamily, JSONFamily:
		return PhysBytes
	case IntervalFamily:
		return PhysInterval
	}
	return PhysDatum
}

// Equal reports whether two types are the same, typmods included.
func (t *T) Equal(o *T) bool {
	if t == o {
		return true
	}
	if t == nil || o == nil || t.Oid != o.Oid || t.Width != o.Width || t.Scale != o.Scale {
		return false
	}
	if t.Elem != nil || o.Elem != nil {
		return t.Elem != nil && o.Elem != nil && t.Elem.Equal(o.Elem)
	}
	return sameFields(t.Fields, o.Fields)
}

// Identical reports whether two types have the same OID (typmods ignored).
func (t *T) Identical(o *T) bool { return t.Oid == o.Oid }

// Typmod returns the Postgres atttypmod of the type (-1 if none).
func (t *T) Typmod() int32 {
	switch t.Oid {
	case OidVarchar, OidBPChar:
		if t.Width > 0 {
			return t.Width + 4
		}
	case OidNumeric:
		if t.Width > 0 {
			return ((t.Width << 16) | t.Scale) + 4
		}
	}
	return -1
}

// Size returns pg_type.typlen.
func (t *T) Size() int16 {
	switch t.Oid {
	case OidBool, OidChar:
		return 1
	case OidInt2:
		return 2
	case OidInt4, OidFloat4, OidDate, OidOid, OidRegclass, OidRegtype, OidRegproc, OidRegnamespace, OidRegprocedure, OidRegrole, OidRegoper, OidRegoperator, OidXid:
		return 4
	case OidInt8, OidFloat8, OidTime, OidTimestamp, OidTimestampTZ:
		return 8
	case OidInterval, OidUUID:
		return 16
	case OidName:
		return 64
	}
	return -1
}

// Name returns the SQL name of the type as format_type prints it.
func (t *T) String() string {
	switch t.Oid {
	case OidVarchar:
		if t.Width > 0 {
			return fmt.Sprintf("character varying(%d)", t.Width)
		}
		return "character varying"
	case OidBPChar:
		if t.Width > 0 {
			return fmt.Sprintf("character(%d)", t.Width)
		}
		return "bpchar"
	case OidNumeric:
		if t.Width > 0 {
			return fmt.Sprintf("numeric(%d,%d)", t.Width, t.Scale)
		}
		return "numeric"
	}
	if n, ok := oidNames[t.Oid]; ok {
		return n
	}
	if t.Family == ArrayFamily {
		return t.Elem.String() + "[]"
	}
	if n, ok := oidNames[t.Oid]; ok {
		return n
	}
	return fmt.Sprintf("oid%d", t.Oid)
}

var oidNames = map[uint32]string{
	OidBool: "boolean", OidBytea: "bytea", OidChar: `"char"`, OidName: "name", OidInt8: "bigint", OidInt2: "smallint",
	OidInt4: "integer", OidText: "text", OidOid: "oid", OidJSON: "json", OidFloat4: "real", OidFloat8: "double precision",
	OidUnknown: "unknown", OidDate: "date", OidTime: "time without time zone", OidTimestamp: "timestamp without time zone",
	OidTimestampTZ: "timestamp with time zone", OidInterval: "interval", OidUUID: "uuid", OidJSONB: "jsonb",
	OidRegclass: "regclass", OidRegtype: "regtype", OidRegproc: "regproc", OidRegnamespace: "regnamespace",
	OidRegprocedure: "regprocedure", OidRegrole: "regrole", OidRegoper: "regoper", OidRegoperator: "regoperator",
	OidXid: "xid", OidPgNodeTree: "pg_node_tree",
	OidInt2Vector: "int2vector", OidOidVector: "oidvector", OidRecord: "record", OidVoid: "void",
}

// TypName returns pg_type.typname (e.g. "int4", "_text").
func (t *T) TypName() string {
	if t.Family == ArrayFamily && !t.IsVector() {
		return "_" + t.Elem.TypName()
	}
	if n, ok := typNames[t.Oid]; ok {
		return n
	}
	return t.String()
}

var typNames = map[uint32]string{
	OidBool: "bool", OidBytea: "bytea", OidChar: "char", OidName: "name", OidInt8: "int8", OidInt2: "int2",
	OidInt4: "int4", OidText: "text", OidOid: "oid", OidJSON: "json", OidFloat4: "float4", OidFloat8: "float8",
	OidUnknown: "unknown", OidDate: "date", OidTime: "time", OidTimestamp: "timestamp", OidTimestampTZ: "timestamptz",
	OidInterval: "interval", OidUUID: "uuid", OidJSONB: "jsonb", OidBPChar: "bpchar", OidVarchar: "varchar",
	OidNumeric: "numeric", OidRegclass: "regclass", OidRegtype: "regtype", OidRegproc: "regproc", OidRegnamespace: "regnamespace",
	OidRegprocedure: "regprocedure", OidRegrole: "regrole", OidRegoper: "regoper", OidRegoperator: "regoperator",
	OidXid: "xid", OidPgNodeTree: "pg_node_tree",
	OidInt2Vector: "int2vector", OidOidVector: "oidvector", OidVoid: "void",
}

// ByOid returns the predefined type with the given OID, or nil.
func ByOid(oid uint32) *T {
	if t, ok := byOid[oid]; ok {
		return t
	}
	for e, a := range arrayOid {
		if a == oid && e != OidUnknown {
			return ArrayOf(byOid[e])
		}
	}
	return nil
}

var byOid = map[uint32]*T{}

func init() {
	for _, t := range []*T{Unknown, Bool, Int2, Int4, Int8, Float4, Float8, Numeric, Text, Varchar, BPChar, Name, QChar,
		Bytea, UUID, Date, Time, Timestamp, TimestampTZ, Interval, JSON, JSONB, Oid, Regclass, Regtype, Regproc, Regnamespace,
		Regprocedure, Regrole, Regoper, Regoperator, Xid, PgNodeTree, Int2Vector, OidVector} {
		byOid[t.Oid] = t
	}
}

// ByName resolves a type name as written in SQL (after pg_query's normalisation,
// e.g. "int4", "varchar", "timestamptz") to a base type, or nil.
func ByName(name string) *T {
	switch name {
	case "bool", "boolean":
		return Bool
	case "int2", "smallint", "smallserial", "serial2":
		return Int2
	case "int4", "int", "integer", "serial", "serial4":
		return Int4
	case "int8", "bigint", "bigserial", "serial8":
		return Int8
	case "float4", "real":
		return Float4
	case "float8", "double precision", "float":
		return Float8
	case "numeric", "decimal":
		return Numeric
	case "text":
		return Text
	case "varchar", "character varying":
		return Varchar
	case "bpchar", "char", "character":
		return BPChar
	case "name":
		return Name
	case "bytea":
		return Bytea
	case "uuid":
		return UUID
	case "date":
		return Date
	case "time", "time without time zone":
		return Time
	case "timestamp", "timestamp without time zone":
		return Timestamp
	case "timestamptz", "timestamp with time zone":
		return TimestampTZ
	case "interval":
		return Interval
	case "json":
		return JSON
	case "jsonb":
		return JSONB
	case "oid":
		return Oid
	case "regclass":
		return Regclass
	case "regtype":
		return Regtype
	case "regproc":
		return Regproc
	case "regprocedure":
		return Regprocedure
	case "regnamespace":
		return Regnamespace
	case "regrole":
		return Regrole
	case "regoper":
		return Regoper
	case "regoperator":
		return Regoperator
	case "xid":
		return Xid
	case "pg_node_tree":
		return PgNodeTree
	case "int2vector":
		return Int2Vector
	case "oidvector":
		return OidVector
	case `"char"`:
		return QChar
	case "unknown":
		return Unknown
	}
	return nil
}

// BaseTypes returns every predefined non-array type (and the vector
// types), ordered by OID: the rows of pg_type besides the array types.
func BaseTypes() []*T {
	out := make([]*T, 0, len(byOid))
	for _, t := range byOid {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Oid < out[j].Oid })
	return out
}

// ArrayOid returns the OID of the array type of elem (0 when it has none).
func ArrayOid(elem uint32) uint32 {
	if elem == OidUnknown {
		return 0
	}
	return arrayOid[elem]
}
