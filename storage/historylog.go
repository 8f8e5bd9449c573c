package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
)

// The rows of an append-only table are written once and never change, so
// they are not kept in Pebble (whose memtable inserts, flushes and
// compactions would buy nothing for them) but in the table's history log:
// one file of frames, each the run (or row) value Pebble would have held.
//
//	frame: payload length u32 LE | CRC-32C of payload u32 LE | payload
//
// A commit appends its new rows' frames at the log's committed length and
// syncs them before it commits its Pebble batch, which records the new
// committed length in the meta record historyKey(id). Bytes past the
// committed length (a commit that crashed before its batch, or a torn
// write) are never read, and the next commit overwrites them: rows and the
// source offsets committed with them stay atomic.

// frameHeaderLen is the bytes of a frame before its payload.
const frameHeaderLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// historyKey is the meta record of table id's history log: its file
// generation and committed length (see historyRecord).
func historyKey(id uint32) string { return "history/" + strconv.FormatUint(uint64(id), 10) }

// historyRecord is the committed state of a history log, as stored in its
// meta record: gen, bytes, rows, each u64 BE.
type historyRecord struct {
	gen   uint64
	bytes int64
	rows  uint64
}

func (r historyRecord) encode() []byte {
	v := binary.BigEndian.AppendUint64(nil, r.gen)
	v = binary.BigEndian.AppendUint64(v, uint64(r.bytes))
	return binary.BigEndian.AppendUint64(v, r.rows)
}

func decodeHistoryRecord(id uint32, v []byte) (historyRecord, error) {
	if len(v) != 24 {
		return historyRecord{}, errCorrupt("table %d: history record of %d bytes", id, len(v))
	}
	r := historyRecord{
		gen:   binary.BigEndian.Uint64(v),
		bytes: int64(binary.BigEndian.Uint64(v[8:])),
		rows:  binary.BigEndian.Uint64(v[16:]),
	}
	if r.bytes < 0 {
		return historyRecord{}, errCorrupt("table %d: history length %d", id, r.bytes)
	}
	return r, nil
}

// historyLog is the history file of one append-only table.
type historyLog struct {
	id   uint32
	path string
	// w writes the file; only commits (under db.commitMu) use it. Readers
	// open the file themselves, so that DROP can close w and remove the
	// file under a running scan.
	w vfs.File
	// committed is what the meta record says: the file's valid prefix.
	// Changed by commits only, after their batch.
	committed historyRecord
}

// frameMark says where a frame starts: its byte offset in the log and the
// table position of its first row. An appended segment keeps the mark of
// the frame holding its first row, to read it back once evicted.
type frameMark struct {
	off int64
	pos int
}

// appendFrame appends a frame to buf whose payload encode appends.
func appendFrame(buf []byte, encode func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeaderLen)...)
	buf, err := encode(buf)
	if err != nil {
		return nil, err
	}
	payload := buf[start+frameHeaderLen:]
	if len(payload) > math.MaxUint32 {
		return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "storage: a run of rows takes %d bytes, more than a history frame holds (4 GiB)", len(payload))
	}
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf, nil
}

// frameWriter appends frames to a log from byte off on, through buf,
// which it writes out whenever it holds historyWriteBytes.
type frameWriter struct {
	log *historyLog
	off int64 // where buf goes in the log
	buf []byte
}

// appendRows appends the frames of rows, new rows that will be at table
// positions pos, pos+1, ..., as runs (runValues), and the mark of each
// frame to marks.
func (w *frameWriter) appendRows(marks []frameMark, rows *coldata.Chunk, pos int) ([]frameMark, error) {
	err := runValues(rows.Len, func(lo, n int) error {
		marks = append(marks, frameMark{off: w.off + int64(len(w.buf)), pos: pos + lo})
		var err error
		w.buf, err = appendFrame(w.buf, func(b []byte) ([]byte, error) {
			if n == 1 {
				return encodeRow(b, rows.Cols, lo)
			}
			return encodeRun(b, rows.Cols, lo, n)
		})
		if err == nil && len(w.buf) >= historyWriteBytes {
			err = w.flush()
		}
		return err
	})
	return marks, err
}

// flush writes buf out at off, unsynced.
func (w *frameWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.log.w.WriteAt(w.buf, w.off); err != nil {
		return wrapPebble(err)
	}
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// frameReader reads a log's frames sequentially, buffered, from an offset
// up to an end.
type frameReader struct {
	id      uint32
	bufs    *sync.Pool
	r       *bufio.Reader
	off     int64 // of the next frame
	end     int64
	payload []byte
}

// newReadBufs returns the pool of frameReaders' read buffers a DB keeps: a
// scan reads back one evicted segment after another.
func newReadBufs() *sync.Pool {
	return &sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
}

// newFrameReader returns a reader of f's frames in [off, end), buffered by
// a buffer of bufs; close it.
func newFrameReader(bufs *sync.Pool, id uint32, f io.ReaderAt, off, end int64) *frameReader {
	r := bufs.Get().(*bufio.Reader)
	r.Reset(io.NewSectionReader(f, off, end-off))
	return &frameReader{id: id, bufs: bufs, r: r, off: off, end: end}
}

// close gives the reader's buffer back.
func (fr *frameReader) close() {
	fr.r.Reset(nil)
	fr.bufs.Put(fr.r)
	fr.r = nil
}

// next returns the next frame's payload (valid until the next call) and
// offset; io.EOF exactly at end. A frame that is short, runs past end or
// fails its checksum is XX001.
func (fr *frameReader) next() ([]byte, int64, error) {
	if fr.off == fr.end {
		return nil, 0, io.EOF
	}
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, 0, fr.readErr(err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:]))
	if n > fr.end-fr.off-frameHeaderLen {
		return nil, 0, errCorrupt("table %d: history frame at %d of %d bytes runs past the log's end %d", fr.id, fr.off, n, fr.end)
	}
	if int64(cap(fr.payload)) < n {
		fr.payload = make([]byte, n)
	}
	fr.payload = fr.payload[:n]
	if _, err := io.ReadFull(fr.r, fr.payload); err != nil {
		return nil, 0, fr.readErr(err)
	}
	if crc32.Checksum(fr.payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, 0, errCorrupt("table %d: history frame at %d fails its checksum", fr.id, fr.off)
	}
	off := fr.off
	fr.off += frameHeaderLen + n
	return fr.payload, off, nil
}

// readErr converts a read error: running out of file inside the committed
// length means synced bytes are gone.
func (fr *frameReader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errCorrupt("table %d: history log ends inside the frame at %d", fr.id, fr.off)
	}
	return wrapPebble(err)
}

// sync makes what frameWriters wrote to log durable. Caller holds
// db.commitMu (a group syncs its logs at once: different logs).
func (log *historyLog) sync() error { return wrapPebble(log.w.SyncData()) }

// recordIn adds to b the meta record saying log's committed state is r.
func (log *historyLog) recordIn(b *pebble.Batch, r historyRecord) error {
	return wrapPebble(b.Set(metaKey(historyKey(log.id)), r.encode(), nil))
}
