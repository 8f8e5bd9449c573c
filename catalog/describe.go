package catalog

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/types"
)

// This file answers the catalog functions psql and other tools call
// (pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef, obj_description,
// …) with the text Postgres prints for the equivalent objects.

// qualified quotes and schema-qualifies a relation name.
func qualified(schema, name string) string {
	return types.QuoteIdent(schema) + "." + types.QuoteIdent(name)
}

func quotedCols(t *Table, cols []int) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = types.QuoteIdent(t.Columns[c].Name)
	}
	return strings.Join(names, ", ")
}

// IndexDef is pg_get_indexdef(oid, col, pretty): the CREATE INDEX statement
// of a key index, or with col > 0 the col'th indexed column. Pretty output
// qualifies the table only when the search path would not find it.
func (s *Snapshot) IndexDef(oid uint32, col int, pretty bool) (string, bool) {
	r := s.rel(oid)
	if r == nil || !r.index {
		return "", false
	}
	if col > 0 {
		if col > len(r.key) {
			return "", false
		}
		return types.QuoteIdent(r.user.Columns[r.key[col-1]].Name), true
	}
	table := qualified(r.user.Schema, r.user.Name)
	if t := s.rel(r.user.ID); pretty && t != nil && s.visible(t) {
		table = types.QuoteIdent(r.user.Name)
	}
	return "CREATE UNIQUE INDEX " + types.QuoteIdent(r.name) + " ON " + table +
		" USING btree (" + quotedCols(r.user, r.key) + ")", true
}

// ConstraintDef is pg_get_constraintdef: "PRIMARY KEY (a, b)" for a table's
// primary key, the only constraint Sluice records.
func (s *Snapshot) ConstraintDef(oid uint32) (string, bool) {
	t := s.constraintTable(oid)
	if t == nil {
		return "", false
	}
	return "PRIMARY KEY (" + quotedCols(t, t.PK) + ")", true
}

// constraintTable returns the table whose primary key constraint has oid.
func (s *Snapshot) constraintTable(oid uint32) *Table {
	if oid < 2<<30 || oid >= 3<<30 {
		return nil
	}
	r := s.rel(oid - 2<<30)
	if r == nil || r.user == nil || r.index || r.user.Kind == KindMaterializedView || len(r.user.PK) == 0 {
		return nil
	}
	return r.user
}

// ViewDef is pg_get_viewdef: a materialized view's query as Postgres
// prints it (" SELECT …;").
func (s *Snapshot) ViewDef(oid uint32, pretty bool) (string, bool) {
	r := s.rel(oid)
	if r == nil || r.user == nil || r.index || r.user.Kind != KindMaterializedView {
		return "", false
	}
	if s.env.Render != nil {
		if q := s.env.Render.ViewQuery(r.user, pretty); q != "" {
			return q, true
		}
	}
	return " " + r.user.Definition + ";", true
}

// defaultExpr is the text of column col's default (pg_get_expr of adbin).
func (s *Snapshot) defaultExpr(t *Table, col int) string {
	if s.env.Render != nil {
		if e := s.env.Render.DefaultExpr(t, col); e != "" {
			return e
		}
	}
	return t.Columns[col].Default
}

// Description is obj_description/col_description: the comment on an object
// (classoid names its catalog; subid is a column number or 0). A stream
// without a comment describes itself.
func (s *Snapshot) Description(objoid, classoid uint32, subid int32) (string, bool) {
	if classoid == ClassPgNamespace && subid == 0 {
		switch objoid { // as Postgres' initdb comments them
		case NamespacePublic:
			return "standard public schema", true
		case NamespacePgCatalog:
			return "system catalog schema", true
		}
		return "", false
	}
	if classoid != ClassPgClass {
		return "", false
	}
	r := s.rel(objoid)
	if r == nil || r.user == nil || r.index {
		return "", false
	}
	t := r.user
	switch {
	case subid > 0 && int(subid) <= len(t.Columns):
		c := t.Columns[subid-1].Comment
		return c, c != ""
	case subid != 0:
		return "", false
	case t.Comment != "":
		return t.Comment, true
	case t.Kind == KindStream:
		return StreamDescription(t), true
	}
	return "", false
}

// StreamDescription is the comment pg_description holds for a stream,
// which \dt+ shows: streams are relkind 'r' like tables, this says what they
// are.
func StreamDescription(t *Table) string {
	d := "append-only stream"
	if c := t.Options["connector"]; c != "" && c != "none" {
		d += ", connector " + c
	}
	if w := t.Watermark; w != nil {
		d += ", watermark " + w.Column
		if w.DelayMicros > 0 {
			d += " - " + types.FormatText(types.Interval, types.IntervalValue{Micros: w.DelayMicros}, nil)
		}
	}
	return d
}

// SecretOption reports whether a WITH option holds a secret (a password),
// whose value is never shown, logged or put in an error message.
func SecretOption(name string) bool {
	return strings.HasSuffix(name, "password") || strings.HasSuffix(name, "secret")
}

// reloptions are a relation's WITH options as pg_class.reloptions holds
// them, which \d+ prints as "Options:". A stream's default connector
// ('none') is left out; secrets are masked.
func reloptions(t *Table) []string {
	var out []string
	for k, v := range t.Options {
		if t.Kind == KindStream && k == "connector" && v == "none" {
			continue
		}
		if SecretOption(k) {
			v = "********"
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ProcArgs is pg_get_function_arguments / pg_get_function_identity_arguments.
func (s *Snapshot) ProcArgs(oid uint32) (string, bool) {
	s.build()
	p := s.procs[oid]
	if p == nil {
		return "", false
	}
	if p.ArgsShown != "" {
		return p.ArgsShown, true
	}
	args := make([]string, 0, len(p.Args)+1)
	for _, a := range p.Args {
		args = append(args, typeName(a))
	}
	if p.Variadic != 0 {
		args = append(args, "VARIADIC "+typeName(types.ArrayOf(typeOf(p.Variadic)).Oid))
	}
	return strings.Join(args, ", "), true
}

// ProcResult is pg_get_function_result.
func (s *Snapshot) ProcResult(oid uint32) (string, bool) {
	s.build()
	p := s.procs[oid]
	if p == nil {
		return "", false
	}
	if p.RetSet {
		return "SETOF " + typeName(p.Ret), true
	}
	return typeName(p.Ret), true
}

// typeName is format_type(oid, NULL).
func typeName(oid uint32) string { return types.FormatType(oid, -1, false) }

func typeOf(oid uint32) *types.T {
	if t := types.ByOid(oid); t != nil {
		return t
	}
	return types.Text
}
