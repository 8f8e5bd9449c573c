package engine

import (
	"math"
	"strconv"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// Sequence objects: CREATE SEQUENCE and DROP SEQUENCE are DDL of their
// transaction (published at COMMIT); nextval and setval are not
// transactional, as in Postgres: a value handed out is never handed out
// again, even when its transaction rolls back.

// sequenceLogAhead is how many values nextval hands out per write of the
// sequence's record: the record says the last of them was handed out, so
// after a crash numbering resumes after them (Postgres' SEQ_LOG_VALS). A
// clean shutdown writes the exact values.
const sequenceLogAhead = 32

// sequences keeps the values of the sequences in use.
type sequences struct {
	db    *storage.DB
	mu    sync.Mutex
	state map[uint32]*sequenceState
	// dropping holds the sequences a committing DROP SEQUENCE removes: a
	// nextval or setval that resolved one before the drop must not write
	// its record (by name) back after the drop deleted it.
	dropping map[uint32]bool
}

// sequenceState is a sequence's current value and how far its record on
// disk already accounts for.
type sequenceState struct {
	def    *catalog.Sequence // the definition (Last and Called as loaded or created)
	last   int64
	called bool
	logged int64 // the record on disk says values up to this one were handed out
	// unlogged: the record may no longer say logged (a ROLLBACK TO undid
	// the write of a sequence created in the transaction): the next value
	// writes it again.
	unlogged bool
}

func newSequences(db *storage.DB) *sequences {
	return &sequences{db: db, state: map[uint32]*sequenceState{}, dropping: map[uint32]bool{}}
}

// stateOf returns def's state, made from its record when first asked for.
func (sq *sequences) stateOf(def *catalog.Sequence) *sequenceState {
	st, ok := sq.state[def.OID]
	if !ok {
		st = &sequenceState{def: def, last: def.Last, called: def.Called, logged: def.Last}
		if !def.Called {
			st.logged = def.Last - def.Increment
		}
		sq.state[def.OID] = st
	}
	return st
}

// write stores st's record: in txn when the sequence's creation has not
// committed yet (so a rollback takes it away), else in a storage
// transaction of its own.
func (sq *sequences) write(st *sequenceState, last int64, called bool, txn *storage.Txn) error {
	rec := *st.def
	rec.Last, rec.Called = last, called
	b, err := rec.Encode()
	if err != nil {
		return err
	}
	if txn != nil {
		txn.PutMeta(catalog.SequenceMetaKey(rec.Name), b)
		return nil
	}
	if sq.dropping[rec.OID] {
		return sqlerr.New(sqlerr.UndefinedTable, "sequence \"%s\" does not exist", rec.Name)
	}
	own := sq.db.Begin()
	own.PutMeta(catalog.SequenceMetaKey(rec.Name), b)
	return own.Commit()
}

// next hands out def's next value. txn is the creating transaction when
// the sequence is not committed yet, else nil.
func (sq *sequences) next(def *catalog.Sequence, txn *storage.Txn) (int64, error) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	st := sq.stateOf(def)
	v := st.last
	wrapped := false
	if st.called {
		var ok bool
		if v, ok = step(st.last, def.Increment, def.Min, def.Max); !ok {
			if !def.Cycle {
				bound, which := def.Max, "maximum"
				if def.Increment < 0 {
					bound, which = def.Min, "minimum"
				}
				return 0, sqlerr.New(sqlerr.SequenceGeneratorLimitExceeded, "nextval: reached %s value of sequence \"%s\" (%d)", which, def.Name, bound)
			}
			v = def.Min
			if def.Increment < 0 {
				v = def.Max
			}
			// The record (near the other bound) does not account for a
			// value of the new cycle, however close in value.
			wrapped = true
		}
	}
	if wrapped || st.unlogged || !st.covers(v) {
		logged := v
		for i := 1; i < sequenceLogAhead; i++ {
			n, ok := step(logged, def.Increment, def.Min, def.Max)
			if !ok {
				break
			}
			logged = n
		}
		if err := sq.write(st, logged, true, txn); err != nil {
			return 0, err
		}
		st.logged, st.unlogged = logged, false
	}
	st.last, st.called = v, true
	return v, nil
}

// covers reports whether the record on disk already accounts for v: v is
// at most sequenceLogAhead steps before the value it holds.
func (st *sequenceState) covers(v int64) bool {
	inc, lo, hi := st.def.Increment, v, st.logged
	if inc < 0 {
		inc, lo, hi = -inc, st.logged, v
	}
	return lo <= hi && (uint64(hi)-uint64(lo))/uint64(inc) < sequenceLogAhead
}

// step returns v + inc, false when that leaves [min, max].
func step(v, inc, min, max int64) (int64, bool) {
	if inc > 0 && v > max-inc || inc < 0 && v < min-inc {
		return 0, false
	}
	return v + inc, true
}

// set runs setval: the sequence's last value becomes v.
func (sq *sequences) set(def *catalog.Sequence, v int64, called bool, txn *storage.Txn) error {
	if v < def.Min || v > def.Max {
		return sqlerr.New(sqlerr.NumericValueOutOfRange, "setval: value %d is out of bounds for sequence \"%s\" (%d..%d)", v, def.Name, def.Min, def.Max)
	}
	sq.mu.Lock()
	defer sq.mu.Unlock()
	st := sq.stateOf(def)
	if err := sq.write(st, v, called, txn); err != nil {
		return err
	}
	st.last, st.called, st.logged, st.unlogged = v, called, v, false
	if !called {
		st.logged = v - def.Increment
	}
	return nil
}

// value returns a sequence's last value and whether nextval handed it out
// (pg_sequences.last_value).
func (sq *sequences) value(def *catalog.Sequence) (last int64, called bool) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	if st, ok := sq.state[def.OID]; ok {
		return st.last, st.called
	}
	return def.Last, def.Called
}

// unlog marks the state of sequence oid, whose record a rollback to a
// savepoint may have undone, to be written with its next value.
func (sq *sequences) unlog(oid uint32) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	if st, ok := sq.state[oid]; ok {
		st.unlogged = true
	}
}

// fence marks the sequences a DROP is about to commit (drop true) or,
// after the drop failed, unmarks them: from the mark on, their values are
// no longer written. A write under way finishes first (both hold mu), so
// the drop's deletion of the record comes after it.
func (sq *sequences) fence(qs map[string]*catalog.Sequence, drop bool) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	for _, q := range qs {
		if drop {
			sq.dropping[q.OID] = true
		} else {
			delete(sq.dropping, q.OID)
		}
	}
}

// forget drops the state of a dropped sequence.
func (sq *sequences) forget(oid uint32) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	delete(sq.state, oid)
}

// flush writes the exact value of every sequence in use, so that a clean
// restart resumes where numbering stopped.
func (sq *sequences) flush(exists func(*catalog.Sequence) bool) error {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	for _, st := range sq.state {
		if st.last == st.logged && st.called || !exists(st.def) {
			continue
		}
		if err := sq.write(st, st.last, st.called, nil); err != nil {
			return err
		}
		st.logged = st.last
	}
	return nil
}

// sequenceIn finds the sequence named name as ts sees it (its own CREATE
// and DROP SEQUENCE first); staged is true when ts created it.
func (e *Engine) sequenceIn(ts *txnState, name string) (q *catalog.Sequence, staged, ok bool) {
	if ts != nil {
		if q, ok := ts.sequences[name]; ok {
			return q, true, true
		}
		if ts.droppedSeqs[name] != nil {
			return nil, false, false
		}
	}
	q, ok = e.cat.Sequence(name)
	return q, false, ok
}

// sequencesIn lists the sequences ts sees.
func (e *Engine) sequencesIn(ts *txnState) []*catalog.Sequence {
	all := e.cat.Sequences()
	if ts == nil || len(ts.sequences)+len(ts.droppedSeqs) == 0 {
		return all
	}
	var out []*catalog.Sequence
	for _, q := range all {
		if ts.droppedSeqs[q.Name] == nil && ts.sequences[q.Name] == nil {
			out = append(out, q)
		}
	}
	for _, q := range ts.sequences {
		out = append(out, q)
	}
	return out
}

// execCreateSequence runs CREATE SEQUENCE [IF NOT EXISTS] name [options].
func (st *statement) execCreateSequence(ts *txnState, n *pg.CreateSeqStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	rv := n.Sequence
	if rv.Relpersistence == "t" {
		return "", sqlerr.Unsupported("temporary sequences are not supported").At(st.pos(rv.Location))
	}
	schema, err := s.tableSchema(rv, st)
	if err != nil {
		return "", err
	}
	if s.nameTaken(schema, rv.Relname) {
		if n.IfNotExists {
			return "CREATE SEQUENCE", w.Notice("NOTICE", sqlerr.DuplicateTable, "relation \""+rv.Relname+"\" already exists, skipping")
		}
		return "", errDuplicateTable(rv.Relname)
	}
	q, err := sequenceOptions(rv.Relname, n.Options)
	if err != nil {
		return "", err
	}
	q.OID = s.e.cat.AllocID()
	b, err := q.Encode()
	if err != nil {
		return "", err
	}
	ts.txn.PutMeta(catalog.SequenceMetaKey(q.Name), b)
	if ts.sequences == nil {
		ts.sequences = map[string]*catalog.Sequence{}
	}
	ts.sequences[q.Name] = q
	return "CREATE SEQUENCE", nil
}

// sequenceOptions reads CREATE SEQUENCE's options as Postgres does.
func sequenceOptions(name string, opts []*pg.Node) (*catalog.Sequence, error) {
	q := &catalog.Sequence{Name: name, Increment: 1, TypeOid: types.OidInt8}
	typeName, typeMax := "bigint", int64(math.MaxInt64)
	var start, min, max *int64
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil {
			return nil, sqlerr.Bug("sequence option %T", o.Node)
		}
		num := func() (*int64, error) {
			if d.Arg == nil {
				return nil, nil
			}
			v, err := strconv.ParseInt(defString(d), 10, 64)
			if err != nil {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "%s must be an integer, not %s", strings.ToUpper(d.Defname), defString(d))
			}
			return &v, nil
		}
		var err error
		switch d.Defname {
		case "as":
			tn := d.Arg.GetTypeName()
			typeName = ""
			if tn != nil && len(tn.Names) > 0 {
				typeName = tn.Names[len(tn.Names)-1].GetString_().Sval
			}
			switch typeName {
			case "int2":
				typeName, typeMax, q.TypeOid = "smallint", math.MaxInt16, types.OidInt2
			case "int4":
				typeName, typeMax, q.TypeOid = "integer", math.MaxInt32, types.OidInt4
			case "int8":
				typeName, typeMax, q.TypeOid = "bigint", math.MaxInt64, types.OidInt8
			default:
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "sequence type must be smallint, integer, or bigint")
			}
		case "increment":
			var v *int64
			if v, err = num(); v != nil {
				q.Increment = *v
			}
		case "start":
			start, err = num()
		case "minvalue":
			min, err = num()
		case "maxvalue":
			max, err = num()
		case "cycle":
			q.Cycle = defString(d) == "true"
		case "cache":
			// Every value is handed out from the shared state: nothing to cache.
		default:
			return nil, sqlerr.Unsupported("CREATE SEQUENCE … %s is not supported", strings.ToUpper(strings.ReplaceAll(d.Defname, "_", " ")))
		}
		if err != nil {
			return nil, err
		}
	}
	if q.Increment == 0 {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "INCREMENT must not be zero")
	}
	q.Min, q.Max = catalog.SequenceBounds(typeMax, q.Increment)
	if min != nil {
		q.Min = *min
	}
	if max != nil {
		q.Max = *max
	}
	typeMin := -typeMax - 1
	if q.Max > typeMax || q.Max < typeMin {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "MAXVALUE (%d) is out of range for sequence data type %s", q.Max, typeName)
	}
	if q.Min > typeMax || q.Min < typeMin {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "MINVALUE (%d) is out of range for sequence data type %s", q.Min, typeName)
	}
	if q.Min >= q.Max {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "MINVALUE (%d) must be less than MAXVALUE (%d)", q.Min, q.Max)
	}
	q.Start = q.Min
	if q.Increment < 0 {
		q.Start = q.Max
	}
	if start != nil {
		q.Start = *start
	}
	if q.Start < q.Min {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "START value (%d) cannot be less than MINVALUE (%d)", q.Start, q.Min)
	}
	if q.Start > q.Max {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "START value (%d) cannot be greater than MAXVALUE (%d)", q.Start, q.Max)
	}
	q.Last = q.Start
	return q, nil
}

// execDropSequence runs DROP SEQUENCE [IF EXISTS] name, ….
func (st *statement) execDropSequence(ts *txnState, n *pg.DropStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	var drops []*catalog.Sequence
	for _, o := range n.Objects {
		var parts []string
		for _, p := range o.GetList().GetItems() {
			parts = append(parts, p.GetString_().Sval)
		}
		name := parts[len(parts)-1]
		q, _, ok := s.e.sequenceIn(ts, name)
		if ok && len(parts) > 1 && parts[len(parts)-2] != "public" {
			ok = false
		}
		if !ok {
			if _, isTable := (txnCatalog{s.e.cat, ts}).Lookup("public", name); isTable {
				return "", sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a sequence", name).WithHint("Use DROP TABLE to remove a table.")
			}
			if n.MissingOk {
				if err := w.Notice("NOTICE", sqlerr.UndefinedTable, "sequence \""+name+"\" does not exist, skipping"); err != nil {
					return "", err
				}
				continue
			}
			return "", sqlerr.New(sqlerr.UndefinedTable, "sequence \"%s\" does not exist", name)
		}
		drops = append(drops, q)
	}
	for _, q := range drops {
		ts.txn.DeleteMeta(catalog.SequenceMetaKey(q.Name))
		if _, staged := ts.sequences[q.Name]; staged {
			delete(ts.sequences, q.Name)
			continue
		}
		if ts.droppedSeqs == nil {
			ts.droppedSeqs = map[string]*catalog.Sequence{}
		}
		ts.droppedSeqs[q.Name] = q
	}
	return "DROP SEQUENCE", nil
}

// checkStagedSequences refuses a commit whose CREATE or DROP SEQUENCE
// another transaction overtook (under ddlMu).
func (e *Engine) checkStagedSequences(ts *txnState) error {
	for name, q := range ts.droppedSeqs {
		if now, ok := e.cat.Sequence(name); !ok || now.OID != q.OID {
			return sqlerr.New(sqlerr.UndefinedTable, "sequence \"%s\" does not exist", name)
		}
	}
	for name := range ts.sequences {
		if e.committedNameTaken(ts, "public", name) {
			return errDuplicateTable(name)
		}
	}
	return nil
}

// publishSequences makes ts's CREATE and DROP SEQUENCE visible once it
// committed (under ddlMu).
func (e *Engine) publishSequences(ts *txnState) {
	for name, q := range ts.droppedSeqs {
		e.cat.RemoveSequence(name)
		e.sequences.forget(q.OID)
	}
	for _, q := range ts.sequences {
		e.cat.PublishSequence(q)
	}
}

// loadSequences publishes the sequences of the meta records.
func (e *Engine) loadSequences(meta map[string][]byte) error {
	for k, v := range meta {
		if !catalog.IsSequenceMetaKey(k) {
			continue
		}
		q, err := catalog.DecodeSequence(k, v)
		if err != nil {
			return err
		}
		e.cat.PublishSequence(q)
	}
	return nil
}

// sequenceByOID finds the sequence a regclass argument names, as the
// session sees it.
func (s *session) sequenceByOID(oid uint32) (q *catalog.Sequence, txn *storage.Txn, err error) {
	if ts := s.tx; ts != nil {
		for _, q := range ts.sequences {
			if q.OID == oid {
				return q, ts.txn, nil
			}
		}
	}
	if q, ok := s.e.cat.SequenceByOID(oid); ok && (s.tx == nil || s.tx.droppedSeqs[q.Name] == nil) {
		return q, nil, nil
	}
	if t, ok := s.catalogView().ByID(oid); ok {
		return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a sequence", t.Name)
	}
	return nil, nil, sqlerr.New(sqlerr.UndefinedTable, "could not open relation with OID %d", oid)
}

// registerSequenceFuncs adds nextval, currval, setval and lastval.
func registerSequenceFuncs(r *expr.Registry) {
	seqFunc := func(name string, args []*types.T, f func(s *session, q *catalog.Sequence, txn *storage.Txn, a []types.Datum) (types.Datum, error)) {
		r.Add(&expr.Overload{Name: name, Args: args, Ret: types.Int8, Volatile: true, Row: func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
			s, err := sessionOf(ctx)
			if err != nil {
				return nil, err
			}
			q, txn, err := s.sequenceByOID(uint32(a[0].(int64)))
			if err != nil {
				return nil, err
			}
			return f(s, q, txn, a)
		}})
	}
	nextval := func(s *session, q *catalog.Sequence, txn *storage.Txn, _ []types.Datum) (types.Datum, error) {
		if !s.isSuperuser() {
			return nil, errSequenceDenied(q)
		}
		v, err := s.e.sequences.next(q, txn)
		if err != nil {
			return nil, err
		}
		s.noteSequenceValue(q.OID, v)
		return v, nil
	}
	setval := func(s *session, q *catalog.Sequence, txn *storage.Txn, a []types.Datum) (types.Datum, error) {
		if !s.isSuperuser() {
			return nil, errSequenceDenied(q)
		}
		v := a[1].(int64)
		called := len(a) < 3 || a[2].(bool)
		if err := s.e.sequences.set(q, v, called, txn); err != nil {
			return nil, err
		}
		if called {
			s.noteSequenceValue(q.OID, v)
		}
		return v, nil
	}
	currval := func(s *session, q *catalog.Sequence, _ *storage.Txn, _ []types.Datum) (types.Datum, error) {
		v, ok := s.seqValues[q.OID]
		if !ok {
			return nil, sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "currval of sequence \"%s\" is not yet defined in this session", q.Name)
		}
		return v, nil
	}
	seqFunc("nextval", []*types.T{types.Regclass}, nextval)
	seqFunc("currval", []*types.T{types.Regclass}, currval)
	seqFunc("setval", []*types.T{types.Regclass, types.Int8}, setval)
	seqFunc("setval", []*types.T{types.Regclass, types.Int8, types.Bool}, setval)
	r.Add(&expr.Overload{Name: "lastval", Ret: types.Int8, Volatile: true, Row: func(ctx *expr.EvalCtx, _ []types.Datum) (types.Datum, error) {
		s, err := sessionOf(ctx)
		if err != nil {
			return nil, err
		}
		v, ok := s.seqValues[s.lastSeq]
		if !ok {
			return nil, sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "lastval is not yet defined in this session")
		}
		if _, _, err := s.sequenceByOID(s.lastSeq); err != nil {
			return nil, sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "lastval is not yet defined in this session")
		}
		return v, nil
	}})
}

// noteSequenceValue records v for currval and lastval.
func (s *session) noteSequenceValue(oid uint32, v int64) {
	if s.seqValues == nil {
		s.seqValues = map[uint32]int64{}
	}
	s.seqValues[oid], s.lastSeq = v, oid
}

// errSequenceDenied refuses nextval and setval to a role: sequence
// privileges cannot be granted.
func errSequenceDenied(q *catalog.Sequence) error {
	return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for sequence %s", q.Name)
}
