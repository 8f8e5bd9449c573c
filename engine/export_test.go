package engine

import (
	"github.com/sluice-db/sluice/sqlerr"
)

// AdvanceWatermark commits a watermark (Unix microseconds) for the stream
// named stream in schema public, the way the stream's INSERT path does.
func (e *Engine) AdvanceWatermark(stream string, us int64) error {
	desc, ok := e.cat.Lookup("public", stream)
	if !ok {
		return sqlerr.New(sqlerr.UndefinedTable, "stream %q does not exist", stream)
	}
	t, ok := e.db.Table(desc.ID)
	if !ok {
		return sqlerr.Bug("stream %q has no storage table", stream)
	}
	txn := e.db.Begin()
	if err := txn.AdvanceWatermark(t, us); err != nil {
		return err
	}
	return txn.Commit()
}

// ViewWatermarks returns the running views' watermarks by name, as SHOW
// WATERMARKS lists them (nil: none).
func (e *Engine) ViewWatermarks() map[string]any {
	out := map[string]any{}
	for _, row := range e.viewWatermarks() {
		out[row.Name] = row.Watermark
	}
	return out
}
