package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// Plan is a physical plan node.
type Plan interface {
	// Types are the output column types.
	Types() []*types.T
}

// TableAccess is a transaction's view of one table.
type TableAccess interface {
	// Scan returns the visible rows in chunks; positions identify rows for
	// Update and Delete.
	Scan() (TableIter, error)
	// Lookup finds the row with the given primary key values.
	Lookup(key []types.Datum) (row []types.Datum, pos int, found bool, err error)
	Insert(rows *coldata.Chunk) error
	Delete(positions []int) error
	Update(positions []int, rows *coldata.Chunk) error
}

// ChunkLookup is a TableAccess that returns a looked-up row as a chunk of
// one row (nil when there is none), copied from its columns without a
// Datum per value; a point lookup that needs no position uses it.
type ChunkLookup interface {
	LookupChunk(key []types.Datum) (*coldata.Chunk, error)
}

// RowCounter is a TableAccess that knows how many rows it holds without
// reading them (a view counts its rows at each epoch): a scan none of whose
// columns is read, as count(*)'s, only counts.
type RowCounter interface {
	RowCount() (int64, error)
}

// RangeAccess is a TableAccess that keeps its rows ordered by key and so
// reads a key range without a full scan (see RangeScan).
type RangeAccess interface {
	ScanRange(r KeyRange) (TableIter, error)
}

// KeyRange is the range of a RangeScan, evaluated: the leading key columns
// equal Prefix (no element NULL) and the next one is within Lower and Upper
// (nil: unbounded).
type KeyRange struct {
	Prefix       []types.Datum
	Lower, Upper *KeyBound
}

// KeyBound is one end of a KeyRange.
type KeyBound struct {
	Value     types.Datum // never NULL
	Inclusive bool
}

// TableIter yields a table's rows.
type TableIter interface {
	// Next returns the next chunk and its rows' positions; nil at the end.
	Next() (*coldata.Chunk, []int, error)
}

// TableRef names a table for the executor; the engine resolves it to a
// TableAccess within the statement's transaction.
type TableRef struct {
	ID    uint32
	Name  string
	Types []*types.T
	// PK lists primary key column ordinals.
	PK []int
	// NotNull and ColNames support constraint errors.
	NotNull  []bool
	ColNames []string
	// System marks a system relation (pg_catalog, information_schema): its
	// rows are made from the catalog when the scan starts, and it is never
	// written. Its last column is tableoid, the relation's OID.
	System bool
	// Stream marks an append-only stream. Reference marks a table:
	// reference data, without event time. A materialized view is neither.
	Stream, Reference bool
	// EventTime is the ordinal of a stream's WATERMARK FOR column, the one
	// column its watermark bounds; -1 when it has none.
	EventTime int
	// AppendOnly marks a materialized view that only ever inserts rows
	// (EMIT ON WINDOW CLOSE).
	AppendOnly bool
	// TimeBounds maps the columns of a materialized view that its
	// watermark bounds to how (nil for a view without such columns).
	TimeBounds map[int]TimeBound
}

// TimeBound says how a watermark W bounds a column: every change still to
// come has the column at or after W - Lag (or NULL). With Grid > 0 the
// column's values are also strictly after W - Lag and all equal Offset
// modulo Grid (a window's start or end), which lets a window over it whose
// ends lie on that grid close a grid step earlier. Microseconds; Lag may
// be negative (the column is ahead of W).
type TimeBound struct {
	Lag, Grid, Offset int64
}

// Scan reads a table. With Positions, a trailing int8 column carries each
// row's position (for UPDATE and DELETE).
type Scan struct {
	Table     *TableRef
	Positions bool
}

func (s *Scan) Types() []*types.T {
	if s.Positions {
		return append(append([]*types.T(nil), s.Table.Types...), types.Int8)
	}
	return s.Table.Types
}

// PointLookup reads at most one row by primary key.
type PointLookup struct {
	Table     *TableRef
	Key       []expr.Expr // one per PK column, evaluated once
	Positions bool
}

func (s *PointLookup) Types() []*types.T {
	return (&Scan{Table: s.Table, Positions: s.Positions}).Types()
}

// RangeScan reads, in key order, the rows of a table kept ordered by its key
// (a materialized view, whose TableAccess is a RangeAccess) whose leading key
// columns equal Prefix and whose next key column is within Lower and Upper.
// A NULL in that column is in no range; with neither bound, every row with
// the prefix matches.
type RangeScan struct {
	Table        *TableRef
	Prefix       []expr.Expr // one per leading PK column, evaluated once
	Lower, Upper *RangeBound // on PK column len(Prefix); nil: unbounded
}

// RangeBound is one end of a RangeScan.
type RangeBound struct {
	Value     expr.Expr // evaluated once
	Inclusive bool
}

func (s *RangeScan) Types() []*types.T { return s.Table.Types }

// Values produces constant rows (expressions without column references).
type Values struct {
	Rows [][]expr.Expr
	Typs []*types.T
}

func (v *Values) Types() []*types.T { return v.Typs }

// Filter keeps rows where Cond is true.
type Filter struct {
	Input Plan
	Cond  expr.Expr
}

func (f *Filter) Types() []*types.T { return f.Input.Types() }

// Project computes one expression per output column.
type Project struct {
	Input Plan
	Exprs []expr.Expr
}

func (p *Project) Types() []*types.T {
	ts := make([]*types.T, len(p.Exprs))
	for i, e := range p.Exprs {
		ts[i] = e.Type()
	}
	return ts
}

// AggKind names an aggregate function.
type AggKind string

// AggSpec is one aggregate call in a HashAgg or Window.
type AggSpec struct {
	Kind     AggKind
	Args     []int // input columns
	Distinct bool
	// Filter is the input column holding the FILTER condition, or -1.
	Filter int
	// OrderBy sorts the rows fed to order-sensitive aggregates.
	OrderBy []SortKey
	// OrderTypes are the types of the OrderBy columns.
	OrderTypes []*types.T
	// ArgTypes are the input types; Typ is the result type.
	ArgTypes []*types.T
	Typ      *types.T
}

// HashAgg groups by key columns and computes aggregates. Output: the group
// keys, then one column per aggregate. With no keys it yields exactly one row.
type HashAgg struct {
	Input Plan
	Keys  []int
	Aggs  []AggSpec
}

func (a *HashAgg) Types() []*types.T {
	in := a.Input.Types()
	ts := make([]*types.T, 0, len(a.Keys)+len(a.Aggs))
	for _, k := range a.Keys {
		ts = append(ts, in[k])
	}
	for _, ag := range a.Aggs {
		ts = append(ts, ag.Typ)
	}
	return ts
}

// JoinKind is the kind of a join.
type JoinKind uint8

const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
	SemiJoin
	AntiJoin
)

func (k JoinKind) String() string {
	return [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}[k]
}

// Join joins two inputs. With equality keys it is a hash join (build side:
// Right); otherwise a nested loop. Cond is evaluated over the concatenated
// row (left columns, then right). Semi and anti joins output left columns only.
type Join struct {
	Kind        JoinKind
	Left, Right Plan
	LeftKeys    []int
	RightKeys   []int
	Cond        expr.Expr
}

func (j *Join) Types() []*types.T {
	if j.Kind == SemiJoin || j.Kind == AntiJoin {
		return j.Left.Types()
	}
	return append(append([]*types.T(nil), j.Left.Types()...), j.Right.Types()...)
}

// SortKey orders by one column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort orders its input.
type Sort struct {
	Input Plan
	Keys  []SortKey
}

func (s *Sort) Types() []*types.T { return s.Input.Types() }

// Limit skips Offset rows then passes at most Count rows (nil: no limit).
// With Ties (FETCH FIRST … WITH TIES, the ORDER BY's keys) it also passes
// the rows after the last that equal it on them.
type Limit struct {
	Input  Plan
	Count  expr.Expr
	Offset expr.Expr
	Ties   []SortKey
}

func (l *Limit) Types() []*types.T { return l.Input.Types() }

// Distinct removes duplicate rows. With OnKeys, it keeps the first row of
// each group of rows equal on those columns (DISTINCT ON).
type Distinct struct {
	Input  Plan
	OnKeys []int
}

func (d *Distinct) Types() []*types.T { return d.Input.Types() }

// SetOpKind is UNION, INTERSECT or EXCEPT.
type SetOpKind uint8

const (
	Union SetOpKind = iota
	Intersect
	Except
)

// SetOp combines two inputs of the same column types.
type SetOp struct {
	Kind        SetOpKind
	All         bool
	Left, Right Plan
}

func (s *SetOp) Types() []*types.T { return s.Left.Types() }

// FrameBound is one end of a window frame.
type FrameBound struct {
	// Kind: "unbounded_preceding", "preceding", "current", "following", "unbounded_following".
	Kind   string
	Offset expr.Expr
}

// Frame is a window frame.
type Frame struct {
	Mode       string // "rows", "range" or "groups"
	Start, End FrameBound
	// Explicit is false for the default frame.
	Explicit bool
}

// WindowFunc is one window function call.
type WindowFunc struct {
	Name string // row_number, rank, lag, … or an aggregate kind
	Agg  *AggSpec
	Args []int
	// ArgExprs holds constant arguments (lag offset, ntile buckets) evaluated once.
	ArgExprs []expr.Expr
	Typ      *types.T
}

// Window appends one column per function computed over partitions of the
// input ordered by OrderBy. All functions share PartitionBy, OrderBy and Frame.
type Window struct {
	Input       Plan
	PartitionBy []int
	OrderBy     []SortKey
	Frame       Frame
	Funcs       []WindowFunc
}

func (w *Window) Types() []*types.T {
	ts := append([]*types.T(nil), w.Input.Types()...)
	for _, f := range w.Funcs {
		ts = append(ts, f.Typ)
	}
	return ts
}

// ProjectSet evaluates set-returning functions: each input row yields as many
// rows as its longest SRF result; other columns repeat, shorter SRFs pad NULL.
type ProjectSet struct {
	Input Plan
	Exprs []expr.Expr
	// SRF marks the expressions that return a set (their value is *types.Array
	// of the rows; Typ of the output is the element type).
	SRF  []bool
	Typs []*types.T
	// Ordinality appends an int8 column numbering each input row's output
	// rows from 1 (WITH ORDINALITY); it is the last of Typs.
	Ordinality bool
}

func (p *ProjectSet) Types() []*types.T { return p.Typs }

// OnConflict is INSERT's ON CONFLICT clause on the primary key.
type OnConflict struct {
	DoNothing bool
	// Set holds, for DO UPDATE, one expression per table column evaluated over
	// (existing row columns, excluded row columns).
	Set   []expr.Expr
	Where expr.Expr
}

// Insert writes its input rows (already in table column order and types).
type Insert struct {
	Table      *TableRef
	Input      Plan
	OnConflict *OnConflict
	// Returning expressions are evaluated over the inserted rows.
	Returning []expr.Expr
	// Checks run over each row before it is written (NOT NULL, varchar width).
}

func (i *Insert) Types() []*types.T { return exprTypes(i.Returning) }

// Update replaces rows. Its input has the new row values (table column
// order), then the old row's position.
type Update struct {
	Table     *TableRef
	Input     Plan
	Returning []expr.Expr
}

func (u *Update) Types() []*types.T { return exprTypes(u.Returning) }

// Delete removes rows. Its input is a table scan with positions; Returning is
// evaluated over those rows.
type Delete struct {
	Table     *TableRef
	Input     Plan
	Returning []expr.Expr
}

func (d *Delete) Types() []*types.T { return exprTypes(d.Returning) }

func exprTypes(es []expr.Expr) []*types.T {
	ts := make([]*types.T, len(es))
	for i, e := range es {
		ts[i] = e.Type()
	}
	return ts
}

// WindowAssign is a window table function (TUMBLE, HOP, CUMULATE,
// SESSION): each input row is output once per window of Spec containing its
// Time, followed by window_start and window_end (of Time's type). A row with
// a NULL or infinite Time is in no window. SESSION forms sessions within
// each partition of equal PartitionBy values (NULLs equal) and outputs rows
// ordered by partition and time.
type WindowAssign struct {
	Input       Plan
	Spec        timewindow.Spec
	Time        *expr.ColRef
	PartitionBy []*expr.ColRef
}

func (w *WindowAssign) Types() []*types.T {
	return append(append([]*types.T(nil), w.Input.Types()...), w.Time.Typ, w.Time.Typ)
}
