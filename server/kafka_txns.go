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

// openTransactions lists the transactions left open in the partition logs
// of the kfake data directory dir: partitions/<topic, path-escaped>-<n>/
// holds segments <base offset>.dat of record batches back to back. Like
// kfake's replay, a segment is read up to its first incomplete or corrupt
// batch.
func openTransactions(dir string) ([]openTxn, error) {
	parts, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the embedded broker's partitions: %w", err)
	}
	var txns []openTxn
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
		open, err := partitionOpenTransactions(filepath.Join(dir, "partitions", d.Name()))
		if err != nil {
			return nil, err
		}
		for pid, epoch := range open {
			txns = append(txns, openTxn{topic: topic, partition: int32(partition), producerID: pid, epoch: epoch})
		}
	}
	return txns, nil
}

// partitionOpenTransactions returns the producers (with their epochs)
// whose transactional batches in the partition log pdir are not followed
// by one of their control batches.
func partitionOpenTransactions(pdir string) (map[int64]int16, error) {
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
	open := map[int64]int16{}
	for _, base := range bases {
		if err := scanSegment(filepath.Join(pdir, strconv.FormatInt(base, 10)+".dat"), open); err != nil {
			return nil, err
		}
	}
	return open, nil
}

// scanSegment follows the segment's batches: a producer's transactional
// batch opens (or continues) its transaction, its control batch ends it.
func scanSegment(path string, open map[int64]int16) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading segment %s: %w", path, err)
	}
	left := st.Size() // bytes not yet read: a damaged length cannot make us allocate past them
	r := bufio.NewReaderSize(f, 1<<20)
	var raw []byte
	for {
		// A batch starts with its base offset (8 bytes) and the length of
		// the rest (4 bytes).
		head, err := r.Peek(12)
		if err != nil {
			return readEnd(path, err)
		}
		length := int32(binary.BigEndian.Uint32(head[8:12]))
		if length < 0 || int64(length)+12 > left {
			return nil
		}
		raw = slices.Grow(raw[:0], 12+int(length))[:12+int(length)]
		if _, err := io.ReadFull(r, raw); err != nil {
			return readEnd(path, err)
		}
		left -= int64(len(raw))
		if len(raw) < 21 || crc32.Checksum(raw[21:], crc32c) != binary.BigEndian.Uint32(raw[17:21]) {
			return nil
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return nil
		}
		switch {
		case b.Attributes&batchControl != 0:
			delete(open, b.ProducerID)
		case b.Attributes&batchTransactional != 0:
			open[b.ProducerID] = b.ProducerEpoch
		}
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
