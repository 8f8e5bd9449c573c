package expr

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// VecFunc is a vector kernel: args hold n rows each; out is the result type.
type VecFunc func(ctx *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error)

// ConstIntsFunc is an overload's kernel for a constant k (nil: NULL) and a
// vector of integers, the first argument when constFirst, the second
// otherwise (Overload.ConstInts).
type ConstIntsFunc func(ctx *EvalCtx, k types.Datum, constFirst bool, ints *coldata.Vec, out *types.T) (*coldata.Vec, error)

// RowFunc computes one row. Unless the overload is NullOK it is never called
// with a NULL argument (the result is then NULL).
type RowFunc func(ctx *EvalCtx, args []types.Datum) (types.Datum, error)

// Overload is one signature of a function or operator.
type Overload struct {
	Name string
	// Args are the parameter types. AnyElement matches any type (all
	// AnyElement parameters must agree); AnyArray matches arrays of it.
	Args []*types.T
	// Variadic, when set, is the type of any further arguments.
	Variadic *types.T
	// Ret is the result type; RetFn, when set, computes it from the argument types.
	Ret   *types.T
	RetFn func(args []*types.T) *types.T
	Vec   VecFunc
	Row   RowFunc
	// ConstInts, when set, is the kernel Call.Eval runs for a call of two
	// arguments, one a constant and the other an integer expression widened
	// to the parameter type (expr.Cast's exact widening): it takes the
	// integers as they are, instead of Vec taking every row widened and the
	// constant repeated n times.
	ConstInts ConstIntsFunc
	// NullOK means Row handles NULL arguments itself (not strict).
	NullOK bool
	// Infix prints the call as an operator.
	Infix bool
	// Volatile functions (random, now-like) are not constant-folded.
	Volatile bool
	// Oid is the pg_proc oid reported in the catalog, when known.
	Oid uint32
}

// Polymorphic pseudo-types for overload parameters.
var (
	AnyElement = &types.T{Family: types.UnknownFamily, Oid: 2283}
	AnyArray   = &types.T{Family: types.ArrayFamily, Oid: 2277, Elem: AnyElement}
	// AnyType matches anything without binding AnyElement.
	AnyType = &types.T{Family: types.UnknownFamily, Oid: 2276}
)

// Registry maps function and operator names to their overloads. It is filled
// once by NewRegistry and read-only afterwards.
type Registry struct {
	fns map[string][]*Overload
}

// NewRegistry returns the registry of all built-in functions and operators.
func NewRegistry() *Registry {
	r := &Registry{fns: map[string][]*Overload{}}
	registerOperators(r)
	registerStringFuncs(r)
	registerMathFuncs(r)
	registerDateTimeFuncs(r)
	registerJSONFuncs(r)
	registerArrayFuncs(r)
	registerMiscFuncs(r)
	registerBitFuncs(r)
	registerCatalogFuncs(r)
	return r
}

// Add registers overloads.
func (r *Registry) Add(ovs ...*Overload) {
	for _, o := range ovs {
		r.fns[o.Name] = append(r.fns[o.Name], o)
	}
}

// Replace sets the overloads of name to ovs, dropping the ones it had (the
// engine answers some catalog functions from the session).
func (r *Registry) Replace(name string, ovs ...*Overload) { r.fns[name] = ovs }

// Has reports whether a function of that name exists.
func (r *Registry) Has(name string) bool { return len(r.fns[name]) > 0 }

// Names returns all registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.fns))
	for n := range r.fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Overloads returns the overloads of name.
func (r *Registry) Overloads(name string) []*Overload { return r.fns[name] }

// Resolve picks the overload of name for the argument types, following
// Postgres' rules closely enough for its common cases: exact matches first,
// then the fewest implicit casts, with unknown-typed literals taking the type of
// the other arguments. It returns the parameter types each argument must be
// cast to and the result type.
func (r *Registry) Resolve(name string, args []*types.T) (*Overload, []*types.T, *types.T, error) {
	cands := r.fns[name]
	if len(cands) == 0 {
		return nil, nil, nil, undefinedFunction(name, args)
	}
	type scored struct {
		o      *Overload
		params []*types.T
		cost   int
	}
	var best []scored
	bestCost := 1 << 30
	for _, o := range cands {
		params, cost, ok := matchOverload(o, args)
		if !ok {
			continue
		}
		if cost < bestCost {
			best, bestCost = best[:0], cost
		}
		if cost == bestCost {
			best = append(best, scored{o, params, cost})
		}
	}
	if len(best) == 0 {
		return nil, nil, nil, undefinedFunction(name, args)
	}
	if len(best) > 1 {
		// Prefer the candidate whose parameters are "preferred" types (text,
		// float8, timestamptz…) as Postgres does for unknown literals.
		score := func(ps []*types.T) int { return preferredScore(ps, args) }
		sort.SliceStable(best, func(i, j int) bool { return score(best[i].params) > score(best[j].params) })
		if score(best[0].params) == score(best[1].params) && !sameParams(best[0].params, best[1].params) {
			return nil, nil, nil, sqlerr.New(sqlerr.AmbiguousFunction, "%s is not unique", signature(name, args)).
				WithHint("Could not choose a best candidate function. You might need to add explicit type casts.")
		}
	}
	b := best[0]
	ret := b.o.Ret
	if b.o.RetFn != nil {
		ret = b.o.RetFn(b.params)
	}
	return b.o, b.params, ret, nil
}

func sameParams(a, b []*types.T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Identical(b[i]) {
			return false
		}
	}
	return true
}

// preferredScore ranks tied candidates: an unknown literal prefers a text
// parameter (Postgres resolves unknowns as the string category first), then
// each parameter of a category's preferred type counts.
func preferredScore(ps []*types.T, args []*types.T) int {
	s := 0
	for i, p := range ps {
		if args[i].Family == types.UnknownFamily && p.Oid == types.OidText {
			s += 2
		}
		switch p.Oid {
		case types.OidText, types.OidFloat8, types.OidTimestampTZ, types.OidBool, types.OidInterval, types.OidNumeric:
			s++
		}
	}
	return s
}

// matchOverload checks whether args can call o, returning the concrete
// parameter types and the number of implicit casts needed.
func matchOverload(o *Overload, args []*types.T) ([]*types.T, int, bool) {
	if len(args) < len(o.Args) || (len(args) > len(o.Args) && o.Variadic == nil) {
		return nil, 0, false
	}
	formal := make([]*types.T, len(args))
	for i := range args {
		if i < len(o.Args) {
			formal[i] = o.Args[i]
		} else {
			formal[i] = o.Variadic
		}
	}
	// Bind AnyElement from the first argument that determines it.
	var elem *types.T
	for i, f := range formal {
		a := args[i]
		if a.Family == types.UnknownFamily {
			continue
		}
		switch f {
		case AnyElement:
			if elem == nil {
				elem = a
			} else if !elem.Identical(a) {
				if c := CommonType([]*types.T{elem, a}); c != nil {
					elem = c
				} else {
					return nil, 0, false
				}
			}
		case AnyArray:
			if a.Family != types.ArrayFamily {
				return nil, 0, false
			}
			if elem == nil {
				elem = a.Elem
			}
		}
	}
	if elem == nil {
		elem = types.Text
	}
	params := make([]*types.T, len(args))
	cost := 0
	// Unknown literals take the type of the known arguments when the overload
	// has the same type in every position (Postgres' "assume unknowns are the
	// same type as the known input" rule for binary operators).
	var known *types.T
	for _, a := range args {
		if a.Family != types.UnknownFamily {
			known = a
			break
		}
	}
	for i, f := range formal {
		switch f {
		case AnyElement:
			f = elem
		case AnyArray:
			f = types.ArrayOf(elem)
		}
		params[i] = f
		a := args[i]
		switch {
		case f == AnyType:
			params[i] = a
		case a.Family == types.UnknownFamily:
			if known != nil && !known.Identical(f) {
				cost++ // prefer overloads matching the known argument's type
			}
		case a.Identical(f):
		case implicitCast(a, f):
			cost += castCost(a, f)
		default:
			return nil, 0, false
		}
	}
	return params, cost, true
}

// castCost ranks implicit casts: within a family's natural widening is cheap,
// crossing categories (int to float) costs more.
func castCost(from, to *types.T) int {
	if from.Family == to.Family {
		return 2
	}
	// Postgres prefers each category's preferred type (float8 for numbers)
	// among otherwise equal candidates: round(5) is round(float8).
	if to.Oid == types.OidFloat8 {
		return 3
	}
	if to.Oid == types.OidFloat4 {
		return 5
	}
	return 4
}

// implicitCast reports whether Postgres casts from → to implicitly.
func implicitCast(from, to *types.T) bool {
	if from.Identical(to) {
		return true
	}
	rank := func(t *types.T) int {
		switch t.Oid {
		case types.OidInt2:
			return 1
		case types.OidInt4:
			return 2
		case types.OidInt8:
			return 3
		case types.OidNumeric:
			return 4
		case types.OidFloat4:
			return 5
		case types.OidFloat8:
			return 6
		}
		return 0
	}
	if rf, rt := rank(from), rank(to); rf > 0 && rt > 0 {
		return rf < rt
	}
	switch from.Family {
	case types.StringFamily:
		return to.Family == types.StringFamily && to.Oid != types.OidChar
	case types.DateFamily:
		return to.Family == types.TimestampFamily || to.Family == types.TimestampTZFamily
	case types.TimestampFamily:
		return to.Family == types.TimestampTZFamily
	case types.TimeFamily:
		return to.Family == types.IntervalFamily
	case types.IntFamily:
		return to.Family == types.OidFamily
	case types.OidFamily:
		// oid to int4/int8 is an assignment cast in Postgres, not an
		// implicit one: oid = 0 compares oids.
		return to.Family == types.OidFamily
	case types.ArrayFamily:
		return to.Family == types.ArrayFamily && implicitCast(from.Elem, to.Elem)
	case types.UnknownFamily:
		return true
	}
	return false
}

// ImplicitCast exposes the implicit cast rule to the binder.
func ImplicitCast(from, to *types.T) bool { return implicitCast(from, to) }

// CommonType returns the type that all of ts can be implicitly cast to, as
// Postgres resolves UNION, CASE, COALESCE and VALUES columns; unknowns become
// text when all are unknown. It returns nil when there is none.
func CommonType(ts []*types.T) *types.T {
	var res *types.T
	for _, t := range ts {
		if t.Family == types.UnknownFamily {
			continue
		}
		if res == nil {
			res = t
			continue
		}
		if res.Identical(t) {
			if !res.Equal(t) {
				res = types.ByOid(res.Oid)
			}
			continue
		}
		switch {
		case implicitCast(res, t) && !implicitCast(t, res):
			res = t
		case implicitCast(t, res) && !implicitCast(res, t):
		case res.Family == types.StringFamily && t.Family == types.StringFamily:
			res = types.Text
		default:
			return nil
		}
	}
	if res == nil {
		return types.Text
	}
	return res
}

func signature(name string, args []*types.T) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.String()
	}
	return name + "(" + strings.Join(s, ", ") + ")"
}

func undefinedFunction(name string, args []*types.T) error {
	if isOperatorName(name) {
		s := make([]string, len(args))
		for i, a := range args {
			s[i] = a.String()
		}
		if len(args) == 1 {
			return sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %s", name, s[0]).
				WithHint("No operator matches the given name and argument type. You might need to add an explicit type cast.")
		}
		return sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", s[0], name, strings.Join(s[1:], ", ")).
			WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
	}
	return sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", signature(name, args)).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

func isOperatorName(name string) bool {
	for _, r := range name {
		if !strings.ContainsRune("+-*/<>=~!@#%^&|`?", r) {
			return false
		}
	}
	return name != ""
}
