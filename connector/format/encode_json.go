package format

import (
	"encoding/json"
	"strconv"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// JSONObject writes chosen columns of a row as a JSON object, the way sinks
// and SUBSCRIBE's JSON forms print rows: booleans and integers as JSON
// literals, finite floats and numerics as numbers, json and jsonb as they
// are, everything else (NaN and Infinity included) as its Postgres text in a
// string. The field names are encoded once, when the object is built; an
// Append allocates nothing but buf's growth (and the text of values that
// have no JSON literal).
type JSONObject struct {
	cols []int
	// heads are `{"name":` for the first column and `,"name":` after.
	heads [][]byte
}

// NewJSONObject returns the encoder of the columns cols of a row, named
// names (one per column of the row).
func NewJSONObject(names []string, cols []int) *JSONObject {
	o := &JSONObject{cols: cols}
	for k, c := range cols {
		head := []byte{','}
		if k == 0 {
			head[0] = '{'
		}
		head = types.AppendJSONString(head, names[c])
		o.heads = append(o.heads, append(head, ':'))
	}
	return o
}

// Append appends row i of cols as a JSON object.
func (o *JSONObject) Append(buf []byte, cols []*coldata.Vec, i int, cfg *types.Config) []byte {
	if len(o.cols) == 0 {
		return append(buf, "{}"...)
	}
	for k, c := range o.cols {
		buf = append(buf, o.heads[k]...)
		buf = AppendJSONValue(buf, cols[c], i, cfg)
	}
	return append(buf, '}')
}

// AppendJSONValue appends row i of v as a JSON value.
func AppendJSONValue(buf []byte, v *coldata.Vec, i int, cfg *types.Config) []byte {
	if v.IsNull(i) {
		return append(buf, "null"...)
	}
	switch v.Typ.Family {
	case types.BoolFamily:
		return strconv.AppendBool(buf, v.Bools[i])
	case types.IntFamily:
		return strconv.AppendInt(buf, v.Ints[i], 10)
	}
	text := types.AppendText(nil, v.Typ, v.Get(i), cfg)
	switch v.Typ.Family {
	case types.FloatFamily, types.NumericFamily:
		if json.Valid(text) { // not NaN or Infinity
			return append(buf, text...)
		}
	case types.JSONFamily:
		return append(buf, text...)
	}
	return types.AppendJSONString(buf, string(text))
}
