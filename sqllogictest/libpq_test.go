package sqllogictest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq" // Grafana's PostgreSQL data source talks through lib/pq

	"github.com/sluice-db/sluice/server"
)

// grafanaFile is the .slt file of what Grafana's PostgreSQL data source
// sends.
const grafanaFile = "testdata/grafana.slt"

// Grafana's data source sends its queries through lib/pq, which decodes
// timestamps, numbers and booleans itself: the queries of grafana.slt must
// give the same rows through it as through pgx (the runner's driver).
func TestGrafanaLibPQ(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Run(EngineSluice, func(t *testing.T) {
		runLibPQ(t, fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", srv.PGAddr()), EngineSluice, grafanaFile)
	})
	t.Run(EnginePostgreSQL, func(t *testing.T) {
		url := os.Getenv("SLUICE_TEST_PG_URL")
		if url == "" {
			t.Skip("SLUICE_TEST_PG_URL not set")
		}
		runLibPQ(t, url, EnginePostgreSQL, grafanaFile)
	})
}

// runLibPQ runs the statements and queries of an .slt file (one session,
// no error records) through lib/pq and compares the rows as the runner
// does, the values lib/pq decoded printed back in Postgres' text format.
func runLibPQ(t *testing.T, url, engine, path string) {
	ctx := context.Background()
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // one session, as Grafana's SET statements need
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, rec := range f.Records {
		if !rec.RunsOn(engine) || (rec.Kind != KindStatement && rec.Kind != KindQuery) {
			continue
		}
		if rec.ExpectError != nil || rec.Eventually {
			t.Fatalf("%s: runLibPQ runs only records without errors or retries", rec.Pos())
		}
		if rec.Kind == KindStatement {
			if _, err := conn.ExecContext(ctx, rec.SQL); err != nil {
				t.Errorf("%s: %v\n%s", rec.Pos(), err, rec.SQL)
			}
			continue
		}
		got, err := libPQRows(ctx, conn, rec)
		if err != nil {
			t.Errorf("%s: %v\n%s", rec.Pos(), err, rec.SQL)
			continue
		}
		want := normalizeExpected(rec.Expected, rec.Sort)
		if !slices.Equal(got, want) {
			t.Errorf("%s: results differ through lib/pq\n%s\nwant:\n  %s\ngot:\n  %s", rec.Pos(), rec.SQL,
				strings.Join(want, "\n  "), strings.Join(got, "\n  "))
		}
	}
}

// libPQRows runs a query record through lib/pq and formats its rows.
func libPQRows(ctx context.Context, conn *sql.Conn, rec *Record) ([]string, error) {
	rows, err := conn.QueryContext(ctx, rec.SQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	if len(cols) != len(rec.Types) {
		return nil, fmt.Errorf("type string %q has %d columns, result has %d", rec.Types, len(rec.Types), len(cols))
	}
	var out [][][]byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([][]byte, len(cols))
		for i, v := range vals {
			text, err := pgText(v, cols[i].DatabaseTypeName())
			if err != nil {
				return nil, err
			}
			row[i] = text
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	got := FormatRows(dropIgnored(out, rec.Types), rec.Sort)
	if got == nil {
		got = []string{}
	}
	return got, nil
}

// pgText prints a value lib/pq decoded as Postgres' text output of its
// type (DateStyle ISO, extra_float_digits 1); nil stays NULL.
func pgText(v any, typ string) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case bool:
		return []byte(map[bool]string{true: "t", false: "f"}[x]), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case float64:
		return []byte(pgFloat(x, typ == "FLOAT4")), nil
	case time.Time:
		switch typ {
		case "DATE":
			return []byte(x.Format("2006-01-02")), nil
		case "TIMESTAMP":
			return []byte(x.Format("2006-01-02 15:04:05.999999")), nil
		case "TIMESTAMPTZ":
			s := x.Format("2006-01-02 15:04:05.999999-07:00")
			return []byte(strings.TrimSuffix(s, ":00")), nil
		}
	}
	return nil, fmt.Errorf("lib/pq gave %T for a %s column", v, typ)
}

// pgFloat prints a float as Postgres' shortest output does: in exponent
// form only below 1e-4 and from 1e15 (float4: 1e6) up.
func pgFloat(x float64, float4 bool) string {
	bits, limit := 64, 1e15
	if float4 {
		bits, limit = 32, 1e6
	}
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "Infinity"
	case math.IsInf(x, -1):
		return "-Infinity"
	}
	if a := math.Abs(x); a == 0 || a >= 1e-4 && a < limit {
		return strconv.FormatFloat(x, 'f', -1, bits)
	}
	return strconv.FormatFloat(x, 'e', -1, bits)
}
