package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/sqlerr"
)

// maxPushLine bounds one event of an HTTP push.
const maxPushLine = 16 << 20

// PushError is a rejected HTTP push: the 1-based line of the event at
// fault (0 when no line is), and why.
type PushError struct {
	Line int
	Err  error
}

func (e *PushError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return e.Err.Error()
}

func (e *PushError) Unwrap() error { return e.Err }

// PushJSON appends the newline-delimited JSON objects of body to stream
// (name, or schema.name) in one transaction: all of them or, on the first
// bad line, none. Object fields map to columns by name; missing fields are
// NULL and unknown fields are ignored; values convert as the JSON format of
// connector/format converts them (and the stream's WITH options, such as
// timestamp_format, apply). It returns how many events it added.
func (e *Engine) PushJSON(ctx context.Context, stream string, body io.Reader) (int64, error) {
	schema, name := "public", stream
	if i := strings.IndexByte(stream, '.'); i >= 0 {
		schema, name = stream[:i], stream[i+1:]
	}
	desc, ok := e.cat.Lookup(schema, name)
	if !ok || desc.Kind != catalog.KindStream {
		return 0, &PushError{Err: sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" does not exist", stream)}
	}
	tbl, err := e.storedTable(desc.ID, func() error {
		return sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" does not exist", stream)
	})
	if err != nil {
		return 0, &PushError{Err: err}
	}
	cols := make([]format.Column, len(desc.Columns))
	for i, c := range desc.Columns {
		cols[i] = format.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
	}
	f, err := format.Compile(format.Config{Format: "json", Columns: cols, Options: desc.Options, Name: desc.Name, Types: e.viewConfig()})
	if err != nil {
		return 0, &PushError{Err: err}
	}
	dec := f.NewDecoder()
	rows := coldata.NewChunk(desc.Types(), coldata.DefaultChunkSize)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), maxPushLine)
	line := 0
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := dec.Decode(text, rows.Cols); err != nil {
			return 0, &PushError{Line: line, Err: err}
		}
		rows.Len++
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return 0, &PushError{Line: line + 1, Err: sqlerr.New(sqlerr.ProgramLimitExceeded, "event longer than %d bytes", maxPushLine)}
		}
		return 0, &PushError{Err: fmt.Errorf("reading the request: %w", err)}
	}
	if rows.Len == 0 {
		return 0, nil
	}
	if err := e.commitWithWatermarks(&txnState{txn: e.db.Begin()}, &sourceBatch{tbl: tbl, rows: rows}); err != nil {
		return 0, &PushError{Err: err}
	}
	return int64(rows.Len), nil
}
