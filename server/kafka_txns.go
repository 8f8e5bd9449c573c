package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactions a crash leaves open in the embedded broker's log.
//
// When kfake starts on a log it did not close cleanly, it replays each
// partition and aborts a transaction that is still open there (its
// producer's transactional batches, no control batch after them) in memory
// only: it writes no abort marker (loadPartitionFullReplay in kfake's
// persist.go). Two things then go wrong:
//
//   - read_committed consumers (franz-go's and Java's) are told the
//     transaction aborted from its first offset on, and skip every
//     transactional batch of its producer from there until that producer's
//     abort marker, which never comes. The producer's next transactions
//     (a restarted sink's: same transactional id, so same producer id) are
//     dropped whenever a fetch returns them with the aborted one.
//   - the next replay pairs transactions with control batches by producer
//     id alone, so the aborted batches join the producer's next
//     transaction and are committed with it.
//
// So after a crash Sluice finds the transactions the log leaves open and has
// the broker write their abort markers (WriteTxnMarkers) before the engine,
// and so any sink, starts: the log is then what a real broker's transaction
// coordinator leaves, and both consumers and later replays read it right.
// After a clean shutdown kfake restores open transactions as still open (its
// session state), so nothing is done.

// cleanShutdownFile, in the data directory, says the embedded broker was
// closed cleanly; it is removed when the broker starts.
const cleanShutdownFile = "kafka.clean-shutdown"

// partitionSnapshotFile is where kfake keeps, in a partition's directory,
// the state it wrote at its last clean shutdown.
const partitionSnapshotFile = "snapshot.json"

// Record batch attributes (Kafka's v2 batch format).
const (
	batchTransactional = 0x10
	batchControl       = 0x20
)

// abortMarkersTimeout bounds writing the abort markers at start.
const abortMarkersTimeout = 10 * time.Second

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// openTxn is a transaction a partition's log leaves open.
type openTxn struct {
	topic      string
	partition  int32
	producerID int64
	epoch      int16
}

// closedCleanly reports whether the embedded broker under dataDir was last
// closed cleanly.
func closedCleanly(dataDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dataDir, cleanShutdownFile))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("embedded kafka broker: %w", err)
	}
}

// unmarkCleanShutdown removes the record of a clean shutdown once the
// broker runs: a crash from then on is not one.
func unmarkCleanShutdown(dataDir string) error {
	err := os.Remove(filepath.Join(dataDir, cleanShutdownFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("embedded kafka broker: %w", err)
	}
	return nil
}

// markCleanShutdown records that the embedded broker under dataDir was
// closed cleanly.
func markCleanShutdown(dataDir string) error {
	if err := os.WriteFile(filepath.Join(dataDir, cleanShutdownFile), nil, 0o644); err != nil {
		return fmt.Errorf("embedded kafka broker: recording its clean shutdown: %w", err)
	}
	return nil
}

// logRecovery is what recoverLog did to a crashed log, and what it leaves
// for the running broker to do.
type logRecovery struct {
	// abort are the open transactions to end with abort markers once the
	// broker runs.
	abort []openTxn
	// completed counts the commit markers appended for transactions a
	// crash cut off halfway through their commit (one per partition).
	completed int
	// realigned counts the segment indexes rewritten.
	realigned int
}

// recoverLog reads the partition logs of the kfake data directory dir, as
// a crash left them, before kfake loads them. partitions/<topic,
// path-escaped>-<n>/ holds segments <base offset>.dat of record batches
// back to back, and <base offset>.idx of one entry per batch. Like kfake's
// replay, a segment is read up to its first incomplete or corrupt batch.
//
// It rewrites each index that no longer pairs an entry with each batch,
// finishes the commits a crash interrupted, and lists the other
// transactions left open.
func recoverLog(dir string) (logRecovery, error) {
	var rec logRecovery
	parts, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("reading the embedded broker's partitions: %w", err)
	}
	var logs []*partitionLog
	for _, d := range parts {
		i := strings.LastIndexByte(d.Name(), '-')
		if !d.IsDir() || i < 0 {
			continue
		}
		topic, err := url.PathUnescape(d.Name()[:i])
		if err != nil {
			continue
		}
		partition, err := strconv.ParseInt(d.Name()[i+1:], 10, 32)
		if err != nil {
			continue
		}
		pdir := filepath.Join(dir, "partitions", d.Name())
		// kfake loads a partition from the snapshot its last clean
		// shutdown wrote while the segments still match it, and then
		// knows nothing of a transaction the snapshot saw open: the
		// abort markers below would be ignored. Without it kfake
		// replays the segments, as after any crash.
		if err := os.Remove(filepath.Join(pdir, partitionSnapshotFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rec, fmt.Errorf("embedded kafka broker: %w", err)
		}
		pl, err := readPartitionLog(pdir)
		if err != nil {
			return rec, err
		}
		pl.topic, pl.partition = topic, int32(partition)
		rec.realigned += pl.realigned
		logs = append(logs, pl)
	}
	committed := committedTransactions(logs)
	for _, pl := range logs {
		for pid, epoch := range pl.open {
			if committed[producerEpoch{pid, epoch}] {
				if err := pl.appendCommitMarker(pid, epoch); err != nil {
					return rec, err
				}
				rec.completed++
				continue
			}
			rec.abort = append(rec.abort, openTxn{topic: pl.topic, partition: pl.partition, producerID: pid, epoch: epoch})
		}
	}
	return rec, nil
}

// producerEpoch names a producer's transaction under KIP-890.
type producerEpoch struct {
	id    int64
	epoch int16
}

// markerCount counts a producer epoch's control batches in a partition.
type markerCount struct{ commits, aborts int }

// partitionLog is what recovery learnt of one partition's log.
type partitionLog struct {
	topic     string
	partition int32
	// open are the producers (with their epochs) whose transactional
	// batches are not followed by one of their control batches.
	open    map[int64]int16
	markers map[producerEpoch]markerCount
	// last is the last segment's path without its extension, size its
	// bytes up to the end of its last whole batch.
	last string
	size int64
	// next is the offset after the last batch, leaderEpoch that batch's,
	// maxTimestamp the largest timestamp of the partition.
	next         int64
	leaderEpoch  int32
	maxTimestamp int64
	realigned    int
}

// readPartitionLog reads the partition log in pdir, rewriting the segment
// indexes that do not pair an entry with each batch.
func readPartitionLog(pdir string) (*partitionLog, error) {
	files, err := os.ReadDir(pdir)
	if err != nil {
		return nil, fmt.Errorf("reading partition log %s: %w", pdir, err)
	}
	var bases []int64
	for _, f := range files {
		if base, ok := strings.CutSuffix(f.Name(), ".dat"); ok {
			if n, err := strconv.ParseInt(base, 10, 64); err == nil {
				bases = append(bases, n)
			}
		}
	}
	slices.Sort(bases)
	pl := &partitionLog{open: map[int64]int16{}, markers: map[producerEpoch]markerCount{}}
	for _, base := range bases {
		seg := filepath.Join(pdir, strconv.FormatInt(base, 10))
		batches, size, err := readSegment(seg + ".dat")
		if err != nil {
			return nil, err
		}
		for _, b := range batches {
			switch {
			case b.attributes&batchControl != 0:
				delete(pl.open, b.producerID)
				pe := producerEpoch{b.producerID, b.producerEpoch}
				m := pl.markers[pe]
				if b.commit {
					m.commits++
				} else {
					m.aborts++
				}
				pl.markers[pe] = m
			case b.attributes&batchTransactional != 0:
				pl.open[b.producerID] = b.producerEpoch
			}
			pl.next, pl.leaderEpoch = b.firstOffset+int64(b.lastOffsetDelta)+1, b.leaderEpoch
		}
		rewrote, err := alignIndex(seg+".idx", batches, &pl.maxTimestamp)
		if err != nil {
			return nil, err
		}
		if rewrote {
			pl.realigned++
		}
		pl.last, pl.size = seg, size
	}
	return pl, nil
}

// committedTransactions returns the transactions a commit marker in some
// partition ended. KIP-890 (transaction.version 2: kfake's default, and
// what franz-go, the Java client from 4.0 and so Sluice's sinks use) bumps
// a producer's epoch at every EndTxn, so a producer epoch names one
// transaction, and a commit marker of it anywhere means its commit began:
// the coordinator had decided, and only a crash kept the markers from the
// other partitions. An epoch with more than one marker in a partition, both
// kinds, or open again where it has a marker ended several transactions (a
// client without KIP-890): its markers may be earlier ones', and it is not
// taken.
func committedTransactions(logs []*partitionLog) map[producerEpoch]bool {
	committed, reused := map[producerEpoch]bool{}, map[producerEpoch]bool{}
	for _, pl := range logs {
		for pe, m := range pl.markers {
			if m.commits > 0 {
				committed[pe] = true
			}
			if m.aborts > 0 || m.commits > 1 {
				reused[pe] = true
			}
		}
		for pid, epoch := range pl.open {
			if _, ok := pl.markers[producerEpoch{pid, epoch}]; ok {
				reused[producerEpoch{pid, epoch}] = true
			}
		}
	}
	for pe := range reused {
		delete(committed, pe)
	}
	return committed
}

// appendCommitMarker ends producer pid's open transaction in the partition
// with a commit marker, as kfake writes one (txnMarkerBatch): it appends
// the control batch to the last segment, cut to its last whole batch, and
// its index entry.
func (pl *partitionLog) appendCommitMarker(pid int64, epoch int16) error {
	rec := kmsg.Record{
		Key:   (&kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeCommit}).AppendTo(nil),
		Value: (&kmsg.EndTxnMarker{}).AppendTo(nil),
	}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the length's own varint is one byte
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{FirstOffset: pl.next, PartitionLeaderEpoch: pl.leaderEpoch, Magic: 2,
		Attributes: batchControl | batchTransactional, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil)}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32c))
	pl.maxTimestamp = max(pl.maxTimestamp, now)
	entry := indexEntry(pl.leaderEpoch, pl.maxTimestamp, false)
	if err := appendAt(pl.last+".dat", pl.size, raw); err != nil {
		return fmt.Errorf("completing the commit of producer %d in %s/%d: %w", pid, pl.topic, pl.partition, err)
	}
	pl.size += int64(len(raw))
	idx, err := os.Stat(pl.last + ".idx")
	if err != nil {
		return fmt.Errorf("completing the commit of producer %d in %s/%d: %w", pid, pl.topic, pl.partition, err)
	}
	if err := appendAt(pl.last+".idx", idx.Size(), entry[:]); err != nil {
		return fmt.Errorf("completing the commit of producer %d in %s/%d: %w", pid, pl.topic, pl.partition, err)
	}
	pl.next++
	return nil
}

// appendAt cuts file path to size, appends data and syncs it.
func appendAt(path string, size int64, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteAt(data, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// segmentBatch is what recovery needs of one batch of a segment.
type segmentBatch struct {
	firstOffset     int64
	lastOffsetDelta int32
	producerID      int64
	producerEpoch   int16
	attributes      int16
	leaderEpoch     int32
	maxTimestamp    int64
	// commit is set for a control batch that commits (kfake, like Kafka,
	// takes an unreadable control record for an abort).
	commit bool
}

// readSegment reads the batches of segment file path, and returns them
// with the bytes up to the end of the last.
func readSegment(path string) ([]segmentBatch, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("reading segment %s: %w", path, err)
	}
	left := st.Size() // bytes not yet read: a damaged length cannot make us allocate past them
	r := bufio.NewReaderSize(f, 1<<20)
	var raw []byte
	var out []segmentBatch
	for {
		// A batch starts with its base offset (8 bytes) and the length of
		// the rest (4 bytes).
		head, err := r.Peek(12)
		if err != nil {
			return out, st.Size() - left, readEnd(path, err)
		}
		length := int32(binary.BigEndian.Uint32(head[8:12]))
		if length < 0 || int64(length)+12 > left {
			return out, st.Size() - left, nil
		}
		raw = slices.Grow(raw[:0], 12+int(length))[:12+int(length)]
		if _, err := io.ReadFull(r, raw); err != nil {
			return out, st.Size() - left, readEnd(path, err)
		}
		if len(raw) < 21 || crc32.Checksum(raw[21:], crc32c) != binary.BigEndian.Uint32(raw[17:21]) {
			return out, st.Size() - left, nil
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return out, st.Size() - left, nil
		}
		left -= int64(len(raw))
		sb := segmentBatch{firstOffset: b.FirstOffset, lastOffsetDelta: b.LastOffsetDelta,
			producerID: b.ProducerID, producerEpoch: b.ProducerEpoch, attributes: b.Attributes,
			leaderEpoch: b.PartitionLeaderEpoch, maxTimestamp: b.MaxTimestamp}
		if b.Attributes&batchControl != 0 {
			var rec kmsg.Record
			if err := rec.ReadFrom(b.Records); err == nil && len(rec.Key) >= 4 {
				sb.commit = kmsg.ControlRecordKeyType(binary.BigEndian.Uint16(rec.Key[2:4])) == kmsg.ControlRecordKeyTypeCommit
			}
		}
		out = append(out, sb)
	}
}

// readEnd maps how reading a segment stopped to an error: the end of the
// file, even inside a batch a crash cut short, is not one.
func readEnd(path string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fmt.Errorf("reading segment %s: %w", path, err)
}

// kfake's segment index (persist.go: encodeIndexEntry): per batch, in the
// order of the segment, the format version, a CRC-32C byte of the rest,
// the leader epoch (little-endian int32), the largest timestamp up to the
// batch (int64) and whether the batch is a transaction's data (one byte).
//
// kfake writes a batch to the segment and then its entry to the index. A
// crash between the two leaves the index an entry short, and kfake, which
// pairs entries with batches by position, from then on reads each batch
// with the entry of the one before it: a transaction's data batch after a
// control batch is taken for plain data, so when that transaction aborts
// its records are served to read_committed consumers (a sink's aborted
// attempt then shows beside its retry).
const (
	indexEntrySize     = 15
	indexEntryVersion  = 1
	indexEntryTxnFlags = 14
)

// alignIndex rewrites index file path when its entries are not those of
// batches. maxTimestamp carries the partition's largest timestamp from
// segment to segment.
func alignIndex(path string, batches []segmentBatch, maxTimestamp *int64) (bool, error) {
	want := make([]byte, 0, len(batches)*indexEntrySize)
	for _, b := range batches {
		*maxTimestamp = max(*maxTimestamp, b.maxTimestamp)
		e := indexEntry(b.leaderEpoch, *maxTimestamp, b.attributes&batchTransactional != 0 && b.attributes&batchControl == 0)
		want = append(want, e[:]...)
	}
	have, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading segment index %s: %w", path, err)
	}
	if indexAgrees(have, want) {
		return false, nil
	}
	if err := writeFileSynced(path, want); err != nil {
		return false, fmt.Errorf("rewriting segment index %s: %w", path, err)
	}
	return true, nil
}

// indexEntry is kfake's index entry of a batch.
func indexEntry(leaderEpoch int32, maxTimestamp int64, txnData bool) [indexEntrySize]byte {
	var e [indexEntrySize]byte
	e[0] = indexEntryVersion
	binary.LittleEndian.PutUint32(e[2:6], uint32(leaderEpoch))
	binary.LittleEndian.PutUint64(e[6:14], uint64(maxTimestamp))
	if txnData {
		e[indexEntryTxnFlags] = 1
	}
	e[1] = byte(crc32.Checksum(e[2:], crc32c))
	return e
}

// indexAgrees reports whether index have gives each batch the leader
// epoch and transaction flag of want (the timestamps kfake recomputes at
// load).
func indexAgrees(have, want []byte) bool {
	if len(have) != len(want) {
		return false
	}
	for i := 0; i < len(want); i += indexEntrySize {
		h, w := have[i:i+indexEntrySize], want[i:i+indexEntrySize]
		if h[1] != byte(crc32.Checksum(h[2:], crc32c)) || !slices.Equal(h[2:6], w[2:6]) || h[indexEntryTxnFlags]&1 != w[indexEntryTxnFlags] {
			return false
		}
	}
	return true
}

// writeFileSynced replaces path with data: written beside it, synced,
// renamed over it.
func writeFileSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// abortOpenTransactions has broker c write an abort marker for each of
// txns in a partition it serves (a topic the crash lost has none), and
// returns how many it wrote.
func abortOpenTransactions(c *kfake.Cluster, txns []openTxn) (int, error) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, t := range txns {
		if c.PartitionInfo(t.topic, t.partition) == nil {
			continue
		}
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = t.topic, []int32{t.partition}
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed = t.producerID, t.epoch, false
		m.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{mt}
		req.Markers = append(req.Markers, m)
	}
	if len(req.Markers) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return 0, fmt.Errorf("a client to write abort markers: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), abortMarkersTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("writing abort markers: %w", err)
	}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, fmt.Errorf("writing the abort marker of producer %d in %s/%d: %w", m.ProducerID, t.Topic, p.Partition, err)
				}
			}
		}
	}
	return len(req.Markers), nil
}
