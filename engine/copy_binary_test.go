package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const everyTypeTable = `(b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
	t text, vc varchar(10), by bytea, d date, tm time, ts timestamp, tz timestamptz,
	iv interval, j json, jb jsonb, u uuid, ai int4[], at text[])`

var everyTypeCols = []string{"b", "i2", "i4", "i8", "f4", "f8", "n", "t", "vc", "by", "d", "tm", "ts", "tz", "iv", "j", "jb", "u", "ai", "at"}

// everyTypeText is the text COPY of the rows copyEveryType writes, as
// PostgreSQL 15 prints it.
const everyTypeText = "t\t-2\t1073741824\t-1099511627776\t1.5\t-2.25\t12345.6789\th\u00e9llo\\ttab\tvc\t\\\\x0001ff\t2024-03-05\t10:11:12.345678\t2024-03-05 10:11:12.345678\t2024-03-05 09:11:12.345678+00\t1 year 2 mons 3 days 00:00:04\t{\"a\":1}\t{\"a\": 1, \"b\": [true, null]}\t0102030a-0b0c-0d0e-0f10-111213141516\t{1,NULL,3}\t{a,\"b c\",\"\",NULL}\n" +
	"\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n" +
	"f\t0\t0\t0\t0\t0\t0\t\t\t\\\\x\t-infinity\t00:00:00\tinfinity\t-infinity\t00:00:00\tnull\t[]\t00000000-0000-0000-0000-000000000000\t{}\t{}\n"

func copyEveryType(t *testing.T, conn *pgx.Conn, table string) {
	t.Helper()
	ctx := context.Background()
	var num pgtype.Numeric
	if err := num.Scan("12345.6789"); err != nil {
		t.Fatal(err)
	}
	zero := pgtype.Numeric{}
	_ = zero.Scan("0")
	cet := time.FixedZone("CET", 3600)
	three := int32(3)
	a, bc, empty := "a", "b c", ""
	rows := [][]any{
		{true, int16(-2), int32(1 << 30), int64(-1 << 40), float32(1.5), float64(-2.25), num,
			"h\u00e9llo\ttab", "vc", []byte{0, 1, 255},
			time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
			pgtype.Time{Microseconds: (10*3600+11*60+12)*1e6 + 345678, Valid: true},
			time.Date(2024, 3, 5, 10, 11, 12, 345678000, time.UTC),
			time.Date(2024, 3, 5, 10, 11, 12, 345678000, cet),
			pgtype.Interval{Months: 14, Days: 3, Microseconds: 4e6, Valid: true},
			map[string]any{"a": 1}, map[string]any{"b": []any{true, nil}, "a": 1},
			[16]byte{1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22},
			[]*int32{new(int32(1)), nil, &three}, []*string{&a, &bc, &empty, nil}},
		make([]any, len(everyTypeCols)),
		{false, int16(0), int32(0), int64(0), float32(0), float64(0), zero,
			"", "", []byte{},
			pgtype.Date{InfinityModifier: pgtype.NegativeInfinity, Valid: true},
			pgtype.Time{Valid: true},
			pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true},
			pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true},
			pgtype.Interval{Valid: true},
			nil, []any{}, // json null is the JSON literal, not SQL NULL
			[16]byte{}, []int32{}, []string{}},
	}
	rows[2][15] = []byte("null") // json: raw bytes are sent as is
	n, err := conn.CopyFrom(ctx, pgx.Identifier{table}, everyTypeCols, pgx.CopyFromRows(rows))
	if err != nil || n != int64(len(rows)) {
		t.Fatalf("CopyFrom: %d %v", n, err)
	}
}

func copyOut(t *testing.T, conn *pgx.Conn, sql string) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(context.Background(), &out, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out.Bytes()
}

func TestCopyBinaryEveryType(t *testing.T) {
	srv := startServer(t, "")
	bin := checkCopyBinaryEveryType(t, connect(t, srv))
	// With SLUICE_TEST_PG_URL set, PostgreSQL must agree byte for byte.
	if url := os.Getenv("SLUICE_TEST_PG_URL"); url != "" {
		pgc, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer pgc.Close(context.Background())
		if pgBin := checkCopyBinaryEveryType(t, pgc); !bytes.Equal(pgBin, bin) {
			t.Errorf("binary COPY TO differs from PostgreSQL:\n%q\nwant\n%q", bin, pgBin)
		}
	}
}

func checkCopyBinaryEveryType(t *testing.T, conn *pgx.Conn) []byte {
	ctx := context.Background()
	mustExec(t, conn, "DROP TABLE IF EXISTS e, e2")
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	mustExec(t, conn, "CREATE TABLE e "+everyTypeTable)
	mustExec(t, conn, "CREATE TABLE e2 "+everyTypeTable)
	defer mustExec(t, conn, "DROP TABLE e, e2")
	copyEveryType(t, conn, "e")
	if got := string(copyOut(t, conn, "COPY e TO STDOUT")); got != everyTypeText {
		t.Errorf("after binary COPY FROM:\n%q\nwant\n%q", got, everyTypeText)
	}

	// COPY TO binary, then that stream back in: the same rows.
	bin := copyOut(t, conn, "COPY e TO STDOUT WITH (FORMAT binary)")
	if !bytes.HasPrefix(bin, []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")) || !bytes.HasSuffix(bin, []byte{0xff, 0xff}) {
		t.Fatalf("binary COPY TO framing: %q", bin)
	}
	tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(bin), "COPY e2 FROM STDIN WITH (FORMAT binary)")
	if err != nil || tag.String() != "COPY 3" {
		t.Fatalf("binary COPY FROM of COPY TO output: %v %v", tag, err)
	}
	if got := string(copyOut(t, conn, "COPY e2 TO STDOUT")); got != everyTypeText {
		t.Errorf("binary round trip:\n%q\nwant\n%q", got, everyTypeText)
	}

	// A query and a column list.
	got := copyOut(t, conn, "COPY (SELECT i4, t FROM e WHERE b) TO STDOUT (FORMAT binary)")
	want := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x02" + "\x00\x00\x00\x04\x40\x00\x00\x00" + "\x00\x00\x00\x0ah\xc3\xa9llo\ttab" + "\xff\xff")
	if !bytes.Equal(got, want) {
		t.Errorf("binary COPY (query):\n%q\nwant\n%q", got, want)
	}
	got = copyOut(t, conn, "COPY e (vc, d) TO STDOUT (FORMAT binary)")
	want = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x02" + "\x00\x00\x00\x02vc" + "\x00\x00\x00\x04\x00\x00\x22\x7e" + // 2024-03-05 is day 8830 after 2000-01-01
		"\x00\x02" + "\xff\xff\xff\xff" + "\xff\xff\xff\xff" +
		"\x00\x02" + "\x00\x00\x00\x00" + "\x00\x00\x00\x04\x80\x00\x00\x00" + "\xff\xff")
	if !bytes.Equal(got, want) {
		t.Errorf("binary COPY (columns):\n%q\nwant\n%q", got, want)
	}
	return bin
}

// binCopy builds a binary COPY stream: header, then tuples of raw fields
// (nil is NULL), then the trailer if trailer is set.
func binCopy(trailer bool, tuples ...[][]byte) []byte {
	b := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for _, tup := range tuples {
		b = binary.BigEndian.AppendUint16(b, uint16(len(tup)))
		for _, f := range tup {
			if f == nil {
				b = binary.BigEndian.AppendUint32(b, 0xffffffff)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
			b = append(b, f...)
		}
	}
	if trailer {
		b = append(b, 0xff, 0xff)
	}
	return b
}

func int4Field(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func TestCopyBinaryMalformed(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE TABLE m (a int4, s text NOT NULL DEFAULT 'dflt')")
	mustExec(t, conn, "INSERT INTO m VALUES (0, 'before')")

	// Enough good tuples that some are flushed to the table before the bad one.
	var many [][][]byte
	for i := range 3000 {
		many = append(many, [][]byte{int4Field(int32(i + 1)), []byte("x")})
	}
	good := binCopy(true, many...)
	hdr := binCopy(false)
	withTail := func(tail ...byte) []byte { return append(bytes.Clone(good[:len(good)-2]), tail...) }
	cases := []struct {
		name, stmt string
		in         []byte
		code, msg  string
		detail     string
	}{
		{"bad signature", "", append([]byte("PGCOPZ\n\xff\r\n\x00"), hdr[11:]...), "22P04", "COPY file signature not recognized", ""},
		{"short signature", "", []byte("PGCOPY"), "22P04", "COPY file signature not recognized", ""},
		{"text sent as binary", "", []byte("1\tx\n"), "22P04", "COPY file signature not recognized", ""},
		{"oids flag", "", []byte("PGCOPY\n\xff\r\n\x00\x00\x01\x00\x00\x00\x00\x00\x00"), "22P04", "invalid COPY file header (WITH OIDS)", ""},
		{"critical flag", "", []byte("PGCOPY\n\xff\r\n\x00\x00\x02\x00\x00\x00\x00\x00\x00"), "22P04", "unrecognized critical flags in COPY file header", ""},
		{"missing flags", "", []byte("PGCOPY\n\xff\r\n\x00\x00\x00"), "22P04", "invalid COPY file header (missing flags)", ""},
		{"missing length", "", []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00"), "22P04", "invalid COPY file header (missing length)", ""},
		{"short extension", "", []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x05ab"), "22P04", "invalid COPY file header (wrong length)", ""},
		{"wrong field count", "", withTail(0, 1, 0, 0, 0, 4, 0, 0, 0, 9), "22P04", "row field count is 1, expected 2", "COPY m, line 3001"},
		{"too many fields", "", withTail(0, 3), "22P04", "row field count is 3, expected 2", "COPY m, line 3001"},
		{"truncated tuple", "", withTail(0, 2, 0, 0, 0, 4, 0, 0, 0, 9, 0, 0, 0, 5, 'a', 'b'), "22P04", "unexpected EOF in COPY data", "COPY m, line 3001, column s"},
		{"truncated length", "", withTail(0, 2, 0, 0), "22P04", "unexpected EOF in COPY data", "COPY m, line 3001, column a"},
		{"negative length", "", withTail(0, 2, 0xff, 0xff, 0xff, 0xfe), "22P04", "invalid field size", "COPY m, line 3001, column a"},
		{"data after trailer", "", append(bytes.Clone(good), 0), "22P04", "received copy data after EOF marker", "COPY m, line 3002"},
		{"short int4", "", withTail(0, 2, 0, 0, 0, 2, 0, 1, 0xff, 0xff, 0xff, 0xff), "22P03", "insufficient data left in message", "COPY m, line 3001, column a"},
		{"long int4", "", withTail(0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff), "22P03", "incorrect binary data format", "COPY m, line 3001, column a"},
		{"bad utf8", "", withTail(0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0xff), "22021", `invalid byte sequence for encoding "UTF8"`, "COPY m, line 3001, column s"},
		{"not null", "", withTail(0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "23502", `null value in column "s" of relation "m" violates not-null constraint`, ""},
		{"header option", "COPY m FROM STDIN WITH (FORMAT binary, HEADER)", good, "0A000", "cannot specify HEADER in BINARY mode", ""},
		{"null option", "COPY m FROM STDIN WITH (FORMAT binary, NULL 'x')", good, "42601", "cannot specify NULL in BINARY mode", ""},
		{"delimiter option", "COPY m FROM STDIN WITH (FORMAT binary, DELIMITER ',')", good, "42601", "cannot specify DELIMITER in BINARY mode", ""},
	}
	for _, c := range cases {
		stmt := c.stmt
		if stmt == "" {
			stmt = "COPY m FROM STDIN WITH (FORMAT binary)"
		}
		_, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(c.in), stmt)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		pe := pgErr(t, err)
		if pe.Code != c.code || pe.Message != c.msg || (c.detail != "" && pe.Detail != c.detail) {
			t.Errorf("%s: %s %q (%q), want %s %q (%q)", c.name, pe.Code, pe.Message, pe.Detail, c.code, c.msg, c.detail)
		}
		if got := string(copyOut(t, conn, "COPY m TO STDOUT")); got != "0\tbefore\n" {
			t.Fatalf("%s: table changed:\n%.200s", c.name, got)
		}
	}

	// Valid edge cases: no tuples; no trailer; a column list with a default.
	for _, in := range [][]byte{binCopy(true), hdr} {
		if tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(in), "COPY m FROM STDIN (FORMAT binary)"); err != nil || tag.String() != "COPY 0" {
			t.Errorf("empty binary COPY: %v %v", tag, err)
		}
	}
	in := binCopy(false, [][]byte{int4Field(7)}, [][]byte{nil})
	if tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(in), "COPY m (a) FROM STDIN (FORMAT binary)"); err != nil || tag.String() != "COPY 2" {
		t.Fatalf("binary COPY with a column list: %v %v", tag, err)
	}
	if tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(good), "COPY m FROM STDIN (FORMAT binary)"); err != nil || tag.String() != "COPY 3000" {
		t.Fatalf("binary COPY of 3000 rows: %v %v", tag, err)
	}
	var n, sum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(a) FROM m WHERE s <> 'dflt'").Scan(&n, &sum); err != nil || n != 3001 || sum != 3000*3001/2 {
		t.Errorf("after binary COPY: count %d sum %d %v", n, sum, err)
	}
	if got := string(copyOut(t, conn, "COPY (SELECT a, s FROM m WHERE s = 'dflt' ORDER BY a) TO STDOUT")); got != "7\tdflt\n\\N\tdflt\n" {
		t.Errorf("defaults: %q", got)
	}
}

// TestCopyBinaryText COPYs text values over many batches, with NULLs,
// empty strings and a non-text column between them, into a table and a
// stream with a view, then reads them back: the text of each batch is one
// string that its values are cut from (textArena), and most tuples are
// decoded in the reader's buffer (readBuffered), others across its refills.
func TestCopyBinaryText(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE TABLE tt (k int4, s text, n int4, u text)")
	mustExec(t, conn, "CREATE STREAM st (k int4, s text, n int4, u text)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW sv AS SELECT s, count(*) AS c FROM st GROUP BY s")
	const rows = 20000 // many batches, and tuples across the reader's buffer
	var tuples [][][]byte
	var want strings.Builder
	text := func(i int) []byte {
		switch {
		case i%7 == 0:
			return nil
		case i%11 == 0:
			return []byte{}
		}
		return []byte(fmt.Sprintf("s%d-é", i%50))
	}
	for i := range rows {
		s, u := text(i), text(i+3)
		tuples = append(tuples, [][]byte{int4Field(int32(i)), s, int4Field(int32(-i)), u})
		field := func(b []byte) string {
			if b == nil {
				return `\N`
			}
			return string(b)
		}
		fmt.Fprintf(&want, "%d\t%s\t%d\t%s\n", i, field(s), -i, field(u))
	}
	in := binCopy(true, tuples...)
	for _, rel := range []string{"tt", "st"} {
		tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(in), "COPY "+rel+" FROM STDIN WITH (FORMAT binary)")
		if err != nil || tag.String() != fmt.Sprintf("COPY %d", rows) {
			t.Fatalf("COPY %s: %v %v", rel, tag, err)
		}
		if got := string(copyOut(t, conn, "COPY (SELECT * FROM "+rel+" ORDER BY k) TO STDOUT")); got != want.String() {
			t.Errorf("%s: COPY back differs:\n%.300q\nwant\n%.300q", rel, got, want.String())
		}
	}
	var total int64
	for total != rows {
		if err := conn.QueryRow(ctx, "SELECT coalesce(sum(c), 0) FROM sv").Scan(&total); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	view := copyOut(t, conn, "COPY (SELECT s, c FROM sv ORDER BY s) TO STDOUT")
	batch := copyOut(t, conn, "COPY (SELECT s, count(*) FROM st GROUP BY s ORDER BY s) TO STDOUT")
	if !bytes.Equal(view, batch) {
		t.Errorf("view:\n%s\nwant (batch):\n%s", view, batch)
	}
}
