package catalog

import "github.com/sluice-db/sluice/types"

// The array I/O functions, with Postgres' OIDs: pg_type shows them as every
// array type's typinput, typoutput, typreceive and typsend. pgjdbc tells
// arrays from other types by typinput = 'pg_catalog.array_in'::regproc.
const (
	ProcArrayIn   = 750
	ProcArrayOut  = 751
	ProcArrayRecv = 2400
	ProcArraySend = 2401
)

// ArrayIOProcs are the pg_proc rows of the array I/O functions. They are
// listed, not callable: no query needs them.
func ArrayIOProcs() []Proc {
	const cstring, anyarray, internal = 2275, 2277, 2281
	return []Proc{
		{Oid: ProcArrayIn, Name: "array_in", Kind: 'f', Args: []uint32{cstring, types.OidOid, types.OidInt4}, Ret: anyarray, Strict: true},
		{Oid: ProcArrayOut, Name: "array_out", Kind: 'f', Args: []uint32{anyarray}, Ret: cstring, Strict: true},
		{Oid: ProcArrayRecv, Name: "array_recv", Kind: 'f', Args: []uint32{internal, types.OidOid, types.OidInt4}, Ret: anyarray, Strict: true},
		{Oid: ProcArraySend, Name: "array_send", Kind: 'f', Args: []uint32{anyarray}, Ret: types.OidBytea, Strict: true},
	}
}

// arrayIO returns the pg_type I/O columns of t: the array functions for an
// array type, none for the others.
func arrayIO(t *types.T) []any {
	if t.Family != types.ArrayFamily || types.ArrayOid(t.Elem.Oid) != t.Oid {
		return nil // int2vector and oidvector have I/O functions of their own
	}
	return []any{"typinput", uint32(ProcArrayIn), "typoutput", uint32(ProcArrayOut),
		"typreceive", uint32(ProcArrayRecv), "typsend", uint32(ProcArraySend)}
}
