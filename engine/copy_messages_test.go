package engine_test

import (
	"bytes"
	"context"
	"testing"
)

// messages records each CopyData message pgconn's CopyTo hands over.
type messages [][]byte

func (m *messages) Write(p []byte) (int, error) {
	*m = append(*m, bytes.Clone(p))
	return len(p), nil
}

// COPY TO STDOUT sends one CopyData message per row, as Postgres does:
// psycopg 3 parses each message as one row. The binary header goes with
// the first row and the trailer alone; a text header line goes alone.
func TestCopyOutMessagePerRow(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE TABLE cm (id int PRIMARY KEY, v text)")
	mustExec(t, conn, "INSERT INTO cm SELECT g, 'v' || g FROM generate_series(1, 3) AS g")
	for _, tc := range []struct {
		sql  string
		want []string
	}{
		{"COPY (SELECT * FROM cm ORDER BY id) TO STDOUT", []string{"1\tv1\n", "2\tv2\n", "3\tv3\n"}},
		{"COPY (SELECT * FROM cm ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", []string{"id,v\n", "1,v1\n", "2,v2\n", "3,v3\n"}},
		{"COPY (SELECT * FROM cm WHERE id < 0) TO STDOUT", nil},
	} {
		var got messages
		if _, err := conn.PgConn().CopyTo(context.Background(), &got, tc.sql); err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d messages %q, want %q", tc.sql, len(got), got, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%s: message %d is %q, want %q", tc.sql, i, got[i], tc.want[i])
			}
		}
	}
	var got messages
	if _, err := conn.PgConn().CopyTo(context.Background(), &got, "COPY (SELECT id FROM cm ORDER BY id) TO STDOUT WITH (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	const header = "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	tuple := func(v byte) string { return "\x00\x01\x00\x00\x00\x04\x00\x00\x00" + string(v) }
	want := []string{header + tuple(1), tuple(2), tuple(3), "\xff\xff"}
	if len(got) != len(want) {
		t.Fatalf("binary: %d messages %q, want %q", len(got), got, want)
	}
	for i := range got {
		if string(got[i]) != want[i] {
			t.Errorf("binary message %d is %q, want %q", i, got[i], want[i])
		}
	}
}
