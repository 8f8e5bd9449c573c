package planner

import (
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// scopeCol is one column visible to expressions: column i of the input chunk.
type scopeCol struct {
	table string // alias or table name qualifying the column
	name  string
	typ   *types.T
	// hidden columns are skipped by * (USING join inputs, sort helpers).
	hidden bool
	// qualOnly columns only resolve when qualified (USING join inputs).
	qualOnly bool
	tableOID uint32
	attNum   int16
}

// scope is the set of columns of one query level, with a link to the
// enclosing query's scope for correlated references.
type scope struct {
	cols   []scopeCol
	parent *scope
	// refsFromBelow counts references to this scope's columns from nested
	// queries; a subquery is correlated when it adds to the count of its
	// enclosing scopes.
	refsFromBelow int
}

// chainRefs sums refsFromBelow over s and its enclosing scopes.
func (s *scope) chainRefs() int {
	n := 0
	for sc := s; sc != nil; sc = sc.parent {
		n += sc.refsFromBelow
	}
	return n
}

// resolve finds a column by optional qualifier and name. Levels above 0 mean
// an enclosing query's scope.
func (s *scope) resolve(qual, name string, pos int) (expr.Expr, error) {
	level := 0
	for sc := s; sc != nil; sc = sc.parent {
		idx := -1
		tableSeen := false
		for i, c := range sc.cols {
			if qual != "" {
				if c.table != qual {
					continue
				}
				tableSeen = true
			} else if c.qualOnly {
				continue
			}
			if c.name != name {
				continue
			}
			if idx >= 0 {
				if qual != "" {
					return nil, sqlerr.New(sqlerr.AmbiguousColumn, "column reference \"%s.%s\" is ambiguous", qual, name).At(pos)
				}
				return nil, sqlerr.New(sqlerr.AmbiguousColumn, "column reference \"%s\" is ambiguous", name).At(pos)
			}
			idx = i
		}
		if idx >= 0 {
			c := sc.cols[idx]
			if level == 0 {
				return &expr.ColRef{Idx: idx, Typ: c.typ, Name: c.name}, nil
			}
			sc.refsFromBelow++
			return &expr.OuterRef{Level: level, Idx: idx, Typ: c.typ, Name: c.name}, nil
		}
		if qual != "" && tableSeen {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %s.%s does not exist", qual, name).At(pos)
		}
		level++
	}
	if qual != "" && !s.hasTable(qual) {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "missing FROM-clause entry for table \"%s\"", qual).At(pos)
	}
	if qual != "" {
		return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %s.%s does not exist", qual, name).At(pos)
	}
	return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" does not exist", name).At(pos)
}

func (s *scope) hasTable(qual string) bool {
	for sc := s; sc != nil; sc = sc.parent {
		for _, c := range sc.cols {
			if c.table == qual {
				return true
			}
		}
	}
	return false
}
