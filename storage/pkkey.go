package storage

import "github.com/sluice-db/sluice/coldata"

// rowKeyString returns the primary-key index key of row i of cols.
func rowKeyString(buf []byte, cols []*coldata.Vec, pk []int, i int) ([]byte, string) {
	buf = buf[:0]
	for _, c := range pk {
		buf = cols[c].AppendKey(buf, i)
	}
	return buf, string(buf)
}
