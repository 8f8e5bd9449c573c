package engine_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The protocol's Describe of a portal finds SQL cursors, as in Postgres:
// psycopg 3 describes its named cursors after DECLARE.
func TestDescribeCursorPortal(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "DECLARE dc CURSOR FOR SELECT 1::int8 AS n, 'x'::text AS s")
	describe := func(name string) pgproto3.BackendMessage {
		t.Helper()
		pc := conn.PgConn()
		pc.Frontend().Send(&pgproto3.Describe{ObjectType: 'P', Name: name})
		pc.Frontend().Send(&pgproto3.Sync{})
		if err := pc.Frontend().Flush(); err != nil {
			t.Fatal(err)
		}
		var first pgproto3.BackendMessage
		for {
			msg, err := pc.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				return first
			}
			if first == nil {
				switch m := msg.(type) {
				case *pgproto3.RowDescription:
					first = &pgproto3.RowDescription{Fields: append([]pgproto3.FieldDescription(nil), m.Fields...)}
				case *pgproto3.ErrorResponse:
					first = &pgproto3.ErrorResponse{Code: m.Code}
				default:
					first = msg
				}
			}
		}
	}
	rd, ok := describe("dc").(*pgproto3.RowDescription)
	if !ok || len(rd.Fields) != 2 || string(rd.Fields[0].Name) != "n" || rd.Fields[0].DataTypeOID != 20 || string(rd.Fields[1].Name) != "s" {
		t.Fatalf("Describe of cursor dc: %#v", rd)
	}
	if e, ok := describe("nope").(*pgproto3.ErrorResponse); !ok || e.Code != "34000" {
		t.Fatalf("Describe of no cursor: %#v", e)
	}
}
