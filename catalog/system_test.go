package catalog

import (
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// testCatalog holds a table with a primary key and defaults, a stream and
// a materialized view keyed by its GROUP BY column.
func testCatalog() *Catalog {
	return New([]*Table{
		{ID: 16384, Kind: KindTable, Schema: "public", Name: "rides", PK: []int{0}, Columns: []Column{
			{Name: "ride_id", Type: types.Text},
			{Name: "city", Type: types.Text, NotNull: true, Default: "'Paris'"},
			{Name: "fare", Type: &types.T{Family: types.NumericFamily, Oid: types.OidNumeric, Width: 10, Scale: 2}},
		}},
		{ID: 16385, Kind: KindStream, Schema: "public", Name: "events", Options: map[string]string{"connector": "none"}, Columns: []Column{
			{Name: "id", Type: types.Int8}, {Name: "tags", Type: types.ArrayOf(types.Text)},
		}},
		{ID: 16386, Kind: KindMaterializedView, Schema: "public", Name: "per_city", PK: []int{0},
			Definition: "SELECT city, count(*) AS n FROM rides GROUP BY city", Options: map[string]string{"key": "city"},
			Columns: []Column{{Name: "city", Type: types.Text}, {Name: "n", Type: types.Int8}}},
		{ID: 16387, Kind: KindTable, Schema: "public", Name: "pg_class", Columns: []Column{{Name: "x", Type: types.Int4}}},
	})
}

func testSnapshot() *Snapshot {
	return NewSnapshot(testCatalog(), func() Env {
		return Env{User: "alice", Database: "db", SearchPath: []string{"public"},
			Procs: []Proc{{Oid: 10000, Name: "lower", Kind: 'f', Args: []uint32{types.OidText}, Ret: types.OidText}}}
	})
}

// TestSystemRelationRows makes the rows of every system relation: each
// matches its columns, and no NOT NULL column is NULL.
func TestSystemRelationRows(t *testing.T) {
	s := testSnapshot()
	for _, desc := range SystemTables() {
		ch, err := s.Rows(desc.ID)
		if err != nil {
			t.Errorf("%s.%s: %v", desc.Schema, desc.Name, err)
			continue
		}
		if len(ch.Cols) != len(desc.Columns)+1 {
			t.Errorf("%s: %d columns, want %d and tableoid", desc.Name, len(ch.Cols), len(desc.Columns))
			continue
		}
		if ch.Len > 0 && ch.Cols[len(desc.Columns)].Get(0) != int64(desc.ID) {
			t.Errorf("%s: tableoid is %v", desc.Name, ch.Cols[len(desc.Columns)].Get(0))
		}
		for j, c := range desc.Columns {
			if !ch.Cols[j].Typ.Equal(c.Type) {
				t.Errorf("%s.%s: vector of type %s, column of %s", desc.Name, c.Name, ch.Cols[j].Typ, c.Type)
			}
			for i := 0; i < ch.Len; i++ {
				if c.NotNull && ch.Cols[j].IsNull(i) {
					t.Errorf("%s.%s is NULL in row %d", desc.Name, c.Name, i)
				}
			}
		}
	}
	if _, err := s.Rows(16384); sqlerr.Code(err) != sqlerr.InternalError {
		t.Errorf("Rows of a user table: %v", err)
	}
}

// rowsOf returns a system relation's rows as text, one line per row, of
// the named columns.
func rowsOf(t *testing.T, s *Snapshot, rel string, cols ...string) []string {
	t.Helper()
	schema, name := "pg_catalog", rel
	if i := strings.IndexByte(rel, '.'); i > 0 {
		schema, name = rel[:i], rel[i+1:]
	}
	desc, ok := LookupSystem(schema, name)
	if !ok {
		t.Fatalf("no system relation %s", rel)
	}
	ch, err := s.Rows(desc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := 0; i < ch.Len; i++ {
		var vals []string
		for _, c := range cols {
			j := desc.ColumnIndex(c)
			if j < 0 {
				t.Fatalf("%s has no column %s", rel, c)
			}
			v := ch.Cols[j].Get(i)
			if v == nil {
				vals = append(vals, "NULL")
				continue
			}
			vals = append(vals, types.FormatText(ch.Cols[j].Typ, v, nil))
		}
		out = append(out, strings.Join(vals, " "))
	}
	return out
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestUserObjects checks how tables, streams and materialized views appear.
func TestUserObjects(t *testing.T) {
	s := testSnapshot()
	class := rowsOf(t, s, "pg_class", "oid", "relname", "relkind", "relhasindex", "reloptions")
	for _, want := range []string{
		"16384 rides r t NULL", "16385 events r f NULL", "16386 per_city m t {key=city}",
		"1073758208 rides_pkey i f NULL", "1073758210 per_city_city_idx i f NULL", "1259 pg_class r f NULL",
	} {
		if !contains(class, want) {
			t.Errorf("pg_class lacks %q", want)
		}
	}
	attrs := rowsOf(t, s, "pg_attribute", "attrelid", "attname", "atttypid", "atttypmod", "attnotnull", "atthasdef", "attnum", "attndims")
	for _, want := range []string{
		"16384 ride_id 25 -1 t f 1 0", "16384 city 25 -1 t t 2 0", "16384 fare 1700 655366 f f 3 0",
		"16385 tags 1009 -1 f f 2 1", "16386 city 25 -1 f f 1 0", "1073758208 ride_id 25 -1 f f 1 0",
	} {
		if !contains(attrs, want) {
			t.Errorf("pg_attribute lacks %q", want)
		}
	}
	if got := rowsOf(t, s, "pg_attrdef", "adrelid", "adnum", "adbin"); len(got) != 1 || got[0] != "16384 2 'Paris'" {
		t.Errorf("pg_attrdef = %q", got)
	}
	if got := rowsOf(t, s, "pg_index", "indexrelid", "indrelid", "indisprimary", "indisunique", "indkey"); !contains(got, "1073758208 16384 t t 1") ||
		!contains(got, "1073758210 16386 f t 1") {
		t.Errorf("pg_index = %q", got)
	}
	if got := rowsOf(t, s, "pg_constraint", "oid", "conname", "contype", "conrelid", "conindid", "conkey"); len(got) != 1 ||
		got[0] != "2147500032 rides_pkey p 16384 1073758208 {1}" {
		t.Errorf("pg_constraint = %q", got)
	}
	if got := rowsOf(t, s, "pg_description", "objoid", "classoid", "description"); !contains(got, "16385 1259 append-only stream") {
		t.Errorf("pg_description = %q", got)
	}
	if got := rowsOf(t, s, "information_schema.tables", "table_name", "table_type"); contains(got, "per_city VIEW") ||
		!contains(got, "events BASE TABLE") {
		t.Errorf("information_schema.tables = %q", got)
	}
	if got := rowsOf(t, s, "information_schema.columns", "table_name", "column_name", "data_type", "is_nullable", "numeric_precision", "numeric_scale"); !contains(got, "rides fare numeric YES 10 2") ||
		!contains(got, "events tags ARRAY YES NULL NULL") {
		t.Errorf("information_schema.columns = %q", got)
	}
	if got := rowsOf(t, s, "pg_roles", "oid", "rolname", "rolsuper"); !contains(got, "10 alice t") {
		t.Errorf("pg_roles = %q", got)
	}
}

// TestDescribeFunctions checks the answers of the catalog functions.
func TestDescribeFunctions(t *testing.T) {
	s := testSnapshot()
	if d, ok := s.IndexDef(IndexOID(16384), 0, false); !ok || d != "CREATE UNIQUE INDEX rides_pkey ON public.rides USING btree (ride_id)" {
		t.Errorf("IndexDef = %q, %v", d, ok)
	}
	if d, ok := s.IndexDef(IndexOID(16384), 0, true); !ok || d != "CREATE UNIQUE INDEX rides_pkey ON rides USING btree (ride_id)" {
		t.Errorf("pretty IndexDef = %q, %v", d, ok)
	}
	if d, ok := s.IndexDef(IndexOID(16386), 1, true); !ok || d != "city" {
		t.Errorf("IndexDef column = %q, %v", d, ok)
	}
	if d, ok := s.ConstraintDef(ConstraintOID(16384)); !ok || d != "PRIMARY KEY (ride_id)" {
		t.Errorf("ConstraintDef = %q, %v", d, ok)
	}
	if _, ok := s.ConstraintDef(ConstraintOID(16386)); ok {
		t.Error("a materialized view has a primary key constraint")
	}
	if d, ok := s.ViewDef(16386, true); !ok || d != " SELECT city, count(*) AS n FROM rides GROUP BY city;" {
		t.Errorf("ViewDef without a renderer = %q, %v", d, ok)
	}
	if _, ok := s.ViewDef(16384, true); ok {
		t.Error("a table has a view definition")
	}
	if v, ok := s.RelationVisible(16384); !v || !ok {
		t.Error("rides is not visible")
	}
	// public.pg_class is hidden by pg_catalog.pg_class, searched first.
	if v, ok := s.RelationVisible(16387); v || !ok {
		t.Error("public.pg_class is visible")
	}
	if n, ok := s.RoleName(RoleSuperuser); !ok || n != "alice" {
		t.Errorf("RoleName(10) = %q", n)
	}
	if a, ok := s.ProcArgs(10000); !ok || a != "text" {
		t.Errorf("ProcArgs = %q", a)
	}
}

// TestRegNames checks regclass and friends through a snapshot.
func TestRegNames(t *testing.T) {
	s := testSnapshot()
	for _, c := range []struct {
		typ  *types.T
		in   string
		oid  uint32
		name string
	}{
		{types.Regclass, "rides", 16384, "rides"},
		{types.Regclass, `public."rides"`, 16384, "rides"},
		{types.Regclass, "RIDES", 16384, "rides"},
		{types.Regclass, "pg_class", 1259, "pg_class"},
		{types.Regclass, "public.pg_class", 16387, "public.pg_class"},
		{types.Regclass, "information_schema.tables", 13425, "information_schema.tables"},
		{types.Regnamespace, "public", NamespacePublic, "public"},
		{types.Regrole, "alice", RoleSuperuser, "alice"},
		{types.Regproc, "lower", 10000, "lower"},
		{types.Regprocedure, "lower(text)", 10000, "lower(text)"},
	} {
		oid, err := s.OidOf(c.typ, c.in)
		if err != nil || oid != c.oid {
			t.Errorf("%s %q = %d, %v; want %d", c.typ, c.in, oid, err, c.oid)
			continue
		}
		if name, ok := s.NameOf(c.typ, oid); !ok || name != c.name {
			t.Errorf("%s %d prints %q, want %q", c.typ, oid, name, c.name)
		}
	}
	for _, c := range []struct {
		typ  *types.T
		in   string
		code string
	}{
		{types.Regclass, "nope", sqlerr.UndefinedTable},
		{types.Regclass, `"unterminated`, sqlerr.InvalidName},
		{types.Regnamespace, "nope", sqlerr.UndefinedSchema},
		{types.Regrole, "bob", sqlerr.UndefinedObject},
		{types.Regproc, "nope", sqlerr.UndefinedFunction},
	} {
		if _, err := s.OidOf(c.typ, c.in); sqlerr.Code(err) != c.code {
			t.Errorf("%s %q: %v, want %s", c.typ, c.in, err, c.code)
		}
	}
}

func TestIndexName(t *testing.T) {
	long := strings.Repeat("x", 70)
	if got := indexName(&Table{Name: long, Kind: KindTable}); len(got) != 63 || !strings.HasSuffix(got, "_pkey") {
		t.Errorf("indexName of a long table = %q", got)
	}
	mv := &Table{Name: "v", Kind: KindMaterializedView, PK: []int{1, 0}, Columns: []Column{{Name: "a"}, {Name: "b"}}}
	if got := indexName(mv); got != "v_b_a_idx" {
		t.Errorf("indexName of a view = %q", got)
	}
	seen := map[uint32]bool{}
	for id := uint32(FirstUserID); id < FirstUserID+2000; id++ {
		for att := 1; att <= 50; att++ {
			oid := AttrdefOID(id, att)
			if seen[oid] || oid < 3<<30 {
				t.Fatalf("AttrdefOID(%d, %d) = %d repeats or leaves its range", id, att, oid)
			}
			seen[oid] = true
		}
	}
}

// Secrets in a stream's WITH options never reach pg_class.reloptions (which
// \d+ prints).
func TestReloptionsMaskSecrets(t *testing.T) {
	s := &Table{Kind: KindStream, Name: "s", Options: map[string]string{
		"connector": "kafka", "sasl_password": "hunter2", "schema_registry_password": "pw", "topic": "t"}}
	got := strings.Join(reloptions(s), " ")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "=pw") {
		t.Fatalf("reloptions show a secret: %s", got)
	}
	if want := "connector=kafka sasl_password=******** schema_registry_password=******** topic=t"; got != want {
		t.Fatalf("reloptions %q, want %q", got, want)
	}
}
