package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
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
// NULL and unknown fields are ignored. It returns how many events it added.
func (e *Engine) PushJSON(ctx context.Context, stream string, body io.Reader) (int64, error) {
	schema, name := "public", stream
	if i := strings.IndexByte(stream, '.'); i >= 0 {
		schema, name = stream[:i], stream[i+1:]
	}
	desc, ok := e.cat.Lookup(schema, name)
	if !ok || desc.Kind != catalog.KindStream {
		return 0, &PushError{Err: sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" does not exist", stream)}
	}
	tbl, ok := e.db.Table(desc.ID)
	if !ok {
		return 0, &PushError{Err: sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" does not exist", stream)}
	}
	cfg := e.viewConfig()
	col := map[string]int{}
	for i, c := range desc.Columns {
		col[c.Name] = i
	}
	typs := desc.Types()
	rows := coldata.NewChunk(typs, coldata.DefaultChunkSize)
	row := make([]types.Datum, len(typs))
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
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
			return 0, &PushError{Line: line, Err: sqlerr.New(sqlerr.InvalidTextRepresentation, "not a JSON object")}
		}
		clear(row)
		for k, raw := range obj {
			i, ok := col[k]
			if !ok {
				continue
			}
			d, err := jsonDatum(typs[i], raw, cfg)
			if err != nil {
				return 0, &PushError{Line: line, Err: sqlerr.New(sqlerr.Code(err), "field \"%s\": %s", k, errMessage(err))}
			}
			row[i] = d
		}
		for i, c := range desc.Columns {
			if c.NotNull && row[i] == nil {
				return 0, &PushError{Line: line, Err: sqlerr.New(sqlerr.NotNullViolation, "null value in column \"%s\" of stream \"%s\" violates not-null constraint", c.Name, desc.Name)}
			}
		}
		rows.AppendRow(row)
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
	txn := e.db.Begin()
	if err := txn.Insert(tbl, rows); err != nil {
		txn.Rollback()
		return 0, &PushError{Err: err}
	}
	if err := txn.Commit(); err != nil {
		return 0, &PushError{Err: err}
	}
	return int64(rows.Len), nil
}

func errMessage(err error) string {
	if e, ok := sqlerr.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// jsonDatum converts one JSON value to a value of column type t: strings,
// numbers and booleans are read as the type's text input; json and jsonb
// columns take any JSON value as it is.
func jsonDatum(t *types.T, raw json.RawMessage, cfg *types.Config) (types.Datum, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, nil
	}
	if t.Family == types.JSONFamily {
		return types.ParseText(t, string(raw), cfg)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid JSON string")
		}
		return types.ParseText(t, s, cfg)
	case '{', '[':
		return nil, sqlerr.New(sqlerr.DatatypeMismatch, "a JSON object or array fits only a json or jsonb column, not %s", t)
	}
	return types.ParseText(t, string(raw), cfg)
}
