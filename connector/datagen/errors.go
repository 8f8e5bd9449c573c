package datagen

import (
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

func badOption(name, value, why string) error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for option \"%s\": \"%s\": %s", name, value, why)
}

func errGeneratorNeeded() error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "a datagen stream needs the option \"generator\"").
		WithHint("Valid generators are: %s.", strings.Join(Names(), ", "))
}

func errUnknownGenerator(name string) error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "unknown generator \"%s\"", name).
		WithHint("Valid generators are: %s.", strings.Join(Names(), ", "))
}

// schemaHint lists a generator's columns for errors about a stream's
// declared columns.
func schemaHint(g *Generator) string {
	cols := make([]string, len(g.columns))
	for i, c := range g.columns {
		cols[i] = c.name + " " + c.typ.String()
	}
	return "Generator \"" + g.name + "\" has the columns (" + strings.Join(cols, ", ") +
		"); a stream declares any of them, in any order."
}

func errNotGenerated(g *Generator, col string) error {
	return sqlerr.New(sqlerr.InvalidTableDefinition, "generator \"%s\" makes no column \"%s\"", g.name, col).
		WithHint("%s", schemaHint(g))
}

func errColumnType(g *Generator, col string, declared, want string) error {
	return sqlerr.New(sqlerr.DatatypeMismatch, "column \"%s\" is of type %s but generator \"%s\" makes %s", col, declared, g.name, want).
		WithHint("%s", schemaHint(g))
}

func errNullable(g *Generator, col string) error {
	return sqlerr.New(sqlerr.InvalidTableDefinition, "column \"%s\" cannot be NOT NULL: generator \"%s\" leaves it NULL in some events", col, g.name).
		WithHint("%s", schemaHint(g))
}
