package storage

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
)

// AppendRowValue appends row i of cols as a row value (format version 1,
// docs/format/storage.md): the durable form of rows kept in meta records,
// such as a sink's emitted rows.
func AppendRowValue(buf []byte, cols []*coldata.Vec, i int) ([]byte, error) {
	return encodeRow(buf, cols, i)
}

// DecodeRowValue appends the row of a value written by AppendRowValue to
// cols (one vector per column). Bad bytes are XX001.
func DecodeRowValue(b []byte, cols []*coldata.Vec) error {
	if err := decodeRowInto(b, cols); err != nil {
		return sqlerr.New(sqlerr.DataCorrupted, "corrupt row value: %v", err)
	}
	return nil
}
