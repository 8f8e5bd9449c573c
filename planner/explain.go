package planner

import (
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
)

// explain renders a plan tree, one node per line, children indented.
func explain(p exec.Plan) string {
	var sb strings.Builder
	explainNode(&sb, p, "", true, true)
	return strings.TrimRight(sb.String(), "\n")
}

func explainNode(sb *strings.Builder, p exec.Plan, prefix string, last, root bool) {
	line := describe(p)
	if root {
		sb.WriteString(line + "\n")
	} else {
		branch := "├── "
		if last {
			branch = "└── "
		}
		sb.WriteString(prefix + branch + line + "\n")
		if last {
			prefix += "    "
		} else {
			prefix += "│   "
		}
	}
	kids := children(p)
	for i, k := range kids {
		explainNode(sb, k, prefix, i == len(kids)-1, false)
	}
}

func children(p exec.Plan) []exec.Plan {
	switch p := p.(type) {
	case *exec.Filter:
		return []exec.Plan{p.Input}
	case *exec.Project:
		return []exec.Plan{p.Input}
	case *exec.HashAgg:
		return []exec.Plan{p.Input}
	case *exec.Join:
		return []exec.Plan{p.Left, p.Right}
	case *exec.Sort:
		return []exec.Plan{p.Input}
	case *exec.Limit:
		return []exec.Plan{p.Input}
	case *exec.Distinct:
		return []exec.Plan{p.Input}
	case *exec.SetOp:
		return []exec.Plan{p.Left, p.Right}
	case *exec.Window:
		return []exec.Plan{p.Input}
	case *exec.ProjectSet:
		return []exec.Plan{p.Input}
	case *exec.WindowAssign:
		return []exec.Plan{p.Input}
	case *exec.Insert:
		return []exec.Plan{p.Input}
	case *exec.Update:
		return []exec.Plan{p.Input}
	case *exec.Delete:
		return []exec.Plan{p.Input}
	}
	return nil
}

func exprList(es []expr.Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

func describe(p exec.Plan) string {
	switch p := p.(type) {
	case *exec.Scan:
		return "Scan " + p.Table.Name
	case *exec.PointLookup:
		return fmt.Sprintf("PointLookup %s key=[%s]", p.Table.Name, exprList(p.Key))
	case *exec.RangeScan:
		return "RangeScan " + p.Table.Name + " " + describeRange(p)
	case *exec.Values:
		return fmt.Sprintf("Values rows=%d", len(p.Rows))
	case *exec.Filter:
		return "Filter " + p.Cond.String()
	case *exec.Project:
		return "Project " + exprList(p.Exprs)
	case *exec.HashAgg:
		aggs := make([]string, len(p.Aggs))
		for i, a := range p.Aggs {
			aggs[i] = string(a.Kind)
		}
		return fmt.Sprintf("HashAgg keys=%v aggs=[%s]", p.Keys, strings.Join(aggs, ", "))
	case *exec.Join:
		s := fmt.Sprintf("%sJoin", p.Kind)
		if len(p.LeftKeys) > 0 {
			s = fmt.Sprintf("Hash%s left=%v right=%v", s, p.LeftKeys, p.RightKeys)
		} else {
			s = "NestedLoop" + s
		}
		if p.Cond != nil {
			s += " cond=" + p.Cond.String()
		}
		return s
	case *exec.Sort:
		return fmt.Sprintf("Sort %v", p.Keys)
	case *exec.Limit:
		if p.Ties != nil {
			return "Limit with ties"
		}
		return "Limit"
	case *exec.Distinct:
		if p.OnKeys != nil {
			return fmt.Sprintf("Distinct on=%v", p.OnKeys)
		}
		return "Distinct"
	case *exec.SetOp:
		return fmt.Sprintf("SetOp kind=%d all=%v", p.Kind, p.All)
	case *exec.Window:
		names := make([]string, len(p.Funcs))
		for i, f := range p.Funcs {
			names[i] = f.Name
		}
		return fmt.Sprintf("Window partition=%v order=%v funcs=[%s]", p.PartitionBy, p.OrderBy, strings.Join(names, ", "))
	case *exec.ProjectSet:
		return "ProjectSet " + exprList(p.Exprs)
	case *exec.WindowAssign:
		s := "WindowAssign " + p.Spec.String() + " time=" + p.Time.String()
		if len(p.PartitionBy) > 0 {
			keys := make([]expr.Expr, len(p.PartitionBy))
			for i, k := range p.PartitionBy {
				keys[i] = k
			}
			s += " partition=[" + exprList(keys) + "]"
		}
		return s
	case *exec.Insert:
		return "Insert " + p.Table.Name
	case *exec.Update:
		return "Update " + p.Table.Name
	case *exec.Delete:
		return "Delete " + p.Table.Name
	}
	return fmt.Sprintf("%T", p)
}

// describeRange renders a range scan's conditions on the key, as
// `key=[a = 1, b >= 2, b < 5]`.
func describeRange(p *exec.RangeScan) string {
	name := func(k int) string {
		col := p.Table.PK[k]
		if col < len(p.Table.ColNames) {
			return p.Table.ColNames[col]
		}
		return fmt.Sprintf("#%d", col)
	}
	var conds []string
	for k, e := range p.Prefix {
		conds = append(conds, name(k)+" = "+e.String())
	}
	col := name(len(p.Prefix))
	if b := p.Lower; b != nil {
		op := " > "
		if b.Inclusive {
			op = " >= "
		}
		conds = append(conds, col+op+b.Value.String())
	}
	if b := p.Upper; b != nil {
		op := " < "
		if b.Inclusive {
			op = " <= "
		}
		conds = append(conds, col+op+b.Value.String())
	}
	return "key=[" + strings.Join(conds, ", ") + "]"
}
