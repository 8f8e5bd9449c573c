//go:build integration

package migratetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-db/sluice/server"
)

// startSluice runs a Sluice server on a fresh data directory and returns
// its URL.
func startSluice(t *testing.T) string {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "postgres://sluice@" + srv.PGAddr() + "/sluice?sslmode=disable"
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// relations lists the migrations' relations (named mig_*) that exist.
func relations(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT relname FROM pg_class WHERE relname LIKE 'mig\_%' AND relkind <> 'i' ORDER BY relname`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRelations fails the test unless exactly want exist.
func checkRelations(t *testing.T, db *sql.DB, want ...string) {
	t.Helper()
	if got := relations(t, db); !slices.Equal(got, want) {
		t.Fatalf("relations %q, want %q", got, want)
	}
}

// checkComments fails the test unless the comments of the view migration
// are there.
func checkComments(t *testing.T, db *sql.DB) {
	t.Helper()
	var view, column string
	err := db.QueryRow(`SELECT obj_description('mig_revenue'::regclass, 'pg_class'), col_description('mig_cities'::regclass, 2)`).Scan(&view, &column)
	if err != nil || view != "rides and revenue per country" || column != "ISO 3166 code" {
		t.Fatalf("comments %q, %q (%v)", view, column, err)
	}
}

// checkRevenue reads the views, waiting for them to catch up with want.
func checkRevenue(t *testing.T, db *sql.DB, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := revenue(t, db)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mig_revenue: %q, want %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func revenue(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT country, rides, revenue FROM mig_revenue ORDER BY country`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var country, rev string
		var n int64
		if err := rows.Scan(&country, &n, &rev); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %s", country, n, rev))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var countries, total int64
	if err := db.QueryRow(`SELECT countries, rides FROM mig_revenue_total`).Scan(&countries, &total); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s | %d countries, %d rides", strings.Join(out, "; "), countries, total)
}

// wantRevenue is mig_revenue and mig_revenue_total after all the
// migrations, noRevenue after the rows' migration is rolled back.
const (
	wantRevenue = "de 1 12.00; fr 2 17.75 | 2 countries, 3 rides"
	noRevenue   = " | 0 countries, 0 rides"
)

// allRelations are the migrations' relations.
var allRelations = []string{"mig_cities", "mig_revenue", "mig_revenue_total", "mig_rides"}
