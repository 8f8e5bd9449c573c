package storage

import "encoding/binary"

// Pebble key prefixes (see docs/format/storage.md).
const (
	prefixMeta  byte = 'm' // 'm' + key bytes -> meta value
	prefixTable byte = 't' // 't' + tableID (u32 BE) + rowID (u64 BE) -> row
)

// tablePrefix returns 't' + id.
func tablePrefix(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixTable}, id)
}

// rowKeyLen is the length of a rowKey.
const rowKeyLen = 1 + 4 + 8

// rowKey appends the key of row rowID of table id to buf.
func rowKey(buf []byte, id uint32, rowID uint64) []byte {
	buf = append(buf, prefixTable)
	buf = binary.BigEndian.AppendUint32(buf, id)
	return binary.BigEndian.AppendUint64(buf, rowID)
}

// tableSpan returns [start, end) covering every row of table id.
func tableSpan(id uint32) (start, end []byte) {
	start = tablePrefix(id)
	if id == ^uint32(0) {
		return start, []byte{prefixTable + 1}
	}
	return start, tablePrefix(id + 1)
}

func metaKey(k string) []byte { return append([]byte{prefixMeta}, k...) }

// metaSpan covers every meta record.
func metaSpan() (start, end []byte) { return []byte{prefixMeta}, []byte{prefixMeta + 1} }
