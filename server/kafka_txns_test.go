package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A transaction open when the embedded broker crashed stays aborted, and
// does not hide the next transaction of its transactional id: kfake alone
// aborted it in memory without an abort marker, so a read_committed
// consumer skipped the next transaction too, and the replay after a second
// crash committed the aborted records with it.
func TestEmbeddedKafkaAbortsTransactionsACrashLeftOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, txnID = "out", "sluice-sink-1"

	dir := t.TempDir()
	k := startBroker(t, dir)
	createTopic(t, k, topic, 1)
	left := txnProducer(t, k, txnID)
	produceOpen(ctx, t, left, topic, "open at the crash")
	crashed := crashCopy(t, dir)
	left.Close()
	_ = k.Close()

	k = startBroker(t, crashed)
	if k.abortedAtStart != 1 {
		t.Errorf("%d open transactions aborted at start, want 1", k.abortedAtStart)
	}
	next := txnProducer(t, k, txnID)
	commitOne(ctx, t, next, topic, "committed")
	want := []string{"committed"}
	if got := readCommitted(t, k, topic, 0, "committed"); !slices.Equal(got, want) {
		t.Errorf("after the crash, read_committed reads %q, want %q", got, want)
	}

	crashedAgain := crashCopy(t, crashed)
	next.Close()
	_ = k.Close()
	k = startBroker(t, crashedAgain)
	if got := readCommitted(t, k, topic, 0, "committed"); !slices.Equal(got, want) {
		t.Fatalf("after a second crash, read_committed reads %q, want %q", got, want)
	}
}

// A crash between kfake's write of a batch and of its index entry leaves
// the index an entry short. kfake pairs entries with batches by position,
// so every later batch took the entry of the one before it, and after the
// next crash an aborted transaction's data batch, read with a control
// batch's entry, was served to read_committed consumers as plain data.
func TestEmbeddedKafkaRealignsAnIndexACrashCutShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, txnID = "out", "sluice-sink-1"
	produce := func(p *kgo.Client, value string, commit kgo.TransactionEndTry) {
		t.Helper()
		produceOpen(ctx, t, p, topic, value)
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	k := startBroker(t, dir)
	createTopic(t, k, topic, 1)
	p := txnProducer(t, k, txnID)
	produce(p, "one", kgo.TryCommit)
	crashed := crashCopy(t, dir)
	p.Close()
	_ = k.Close()
	// The crash came after the commit marker's batch, before its entry.
	idx := filepath.Join(crashed, "kafka", "partitions", topic+"-0", "0.idx")
	st, err := os.Stat(idx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 2*indexEntrySize {
		t.Fatalf("%s has %d bytes, want two entries (the record's batch and the commit marker's)", idx, st.Size())
	}
	if err := os.Truncate(idx, indexEntrySize); err != nil {
		t.Fatal(err)
	}

	k = startBroker(t, crashed)
	if k.indexesRealigned != 1 {
		t.Errorf("%d indexes realigned at start, want 1", k.indexesRealigned)
	}
	p = txnProducer(t, k, txnID)
	produce(p, "aborted", kgo.TryAbort)
	produce(p, "two", kgo.TryCommit)
	want := []string{"one", "two"}
	if got := readCommitted(t, k, topic, 0, "two"); !slices.Equal(got, want) {
		t.Errorf("after the crash, read_committed reads %q, want %q", got, want)
	}

	crashedAgain := crashCopy(t, crashed)
	p.Close()
	_ = k.Close()
	k = startBroker(t, crashedAgain)
	if k.indexesRealigned != 0 {
		t.Errorf("%d indexes realigned after the second crash, want 0", k.indexesRealigned)
	}
	if got := readCommitted(t, k, topic, 0, "two"); !slices.Equal(got, want) {
		t.Fatalf("after a second crash, read_committed reads %q, want %q", got, want)
	}
}

// A crash in the middle of EndTxn's commit markers leaves a transaction
// committed in some partitions and open in others. The open part was
// aborted at start, so the transaction lost records; now its missing
// commit markers are appended before the broker loads the log.
func TestEmbeddedKafkaCompletesACommitACrashCutShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "out"
	dir := t.TempDir()
	k := startBroker(t, dir)
	createTopic(t, k, topic, 2)
	p, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.TransactionalID("sluice-sink-1"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := range int32(2) {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "p%d", part)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, dir)
	p.Close()
	_ = k.Close()
	// The crash came after partition 0's commit marker, before partition 1's.
	cutLastBatch(t, filepath.Join(crashed, "kafka", "partitions", topic+"-1", "0"))

	for i, dataDir := range []string{crashed, ""} {
		if i == 1 {
			dataDir = crashCopy(t, crashed)
			_ = k.Close()
		}
		k = startBroker(t, dataDir)
		if want := 1 - i; k.commitsCompleted != want || k.abortedAtStart != 0 {
			t.Errorf("start %d: %d commits completed, %d transactions aborted, want %d and 0", i+1, k.commitsCompleted, k.abortedAtStart, want)
		}
		for part := range int32(2) {
			want := []string{fmt.Sprintf("p%d", part)}
			if got := readCommitted(t, k, topic, part, want[0]); !slices.Equal(got, want) {
				t.Errorf("start %d: read_committed reads %q from partition %d, want %q", i+1, got, part, want)
			}
		}
	}
}

// cutLastBatch removes the last batch of segment seg (a path without its
// extension) and its index entry.
func cutLastBatch(t *testing.T, seg string) {
	t.Helper()
	batches, _, err := readSegment(seg + ".dat")
	if err != nil || len(batches) == 0 {
		t.Fatalf("reading %s.dat: %d batches, %v", seg, len(batches), err)
	}
	raw, err := os.ReadFile(seg + ".dat")
	if err != nil {
		t.Fatal(err)
	}
	var at int64
	for range len(batches) - 1 {
		at += 12 + int64(binary.BigEndian.Uint32(raw[at+8:at+12]))
	}
	if err := os.Truncate(seg+".dat", at); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg+".idx", int64(len(batches)-1)*indexEntrySize); err != nil {
		t.Fatal(err)
	}
}

// Only an epoch that names one transaction is completed: a client without
// KIP-890 keeps its epoch across transactions, and its commit marker in
// one partition may be an earlier transaction's.
func TestCommittedTransactions(t *testing.T) {
	pe := producerEpoch{7, 3}
	log := func(open bool, commits, aborts int) *partitionLog {
		pl := &partitionLog{open: map[int64]int16{}, markers: map[producerEpoch]markerCount{}}
		if open {
			pl.open[pe.id] = pe.epoch
		}
		if commits+aborts > 0 {
			pl.markers[pe] = markerCount{commits: commits, aborts: aborts}
		}
		return pl
	}
	for _, c := range []struct {
		name string
		logs []*partitionLog
		want bool
	}{
		{"committed elsewhere", []*partitionLog{log(true, 0, 0), log(false, 1, 0)}, true},
		{"no marker anywhere", []*partitionLog{log(true, 0, 0), log(true, 0, 0)}, false},
		{"aborted elsewhere", []*partitionLog{log(true, 0, 0), log(false, 0, 1)}, false},
		{"two commits of the epoch in a partition", []*partitionLog{log(true, 0, 0), log(false, 2, 0)}, false},
		{"open again after its own marker", []*partitionLog{log(true, 1, 0), log(false, 1, 0)}, false},
		{"commit and abort of one epoch", []*partitionLog{log(true, 0, 0), log(false, 1, 0), log(false, 0, 1)}, false},
	} {
		if got := committedTransactions(c.logs)[pe]; got != c.want {
			t.Errorf("%s: committed %v, want %v", c.name, got, c.want)
		}
	}
}

// createTopic creates topic with partitions partitions.
func createTopic(t *testing.T, k *embeddedKafka, topic string, partitions int32) {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), partitions, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

func startBroker(t *testing.T, dataDir string) *embeddedKafka {
	t.Helper()
	k, err := startEmbeddedKafka("127.0.0.1:0", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func txnProducer(t *testing.T, k *embeddedKafka, txnID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.TransactionalID(txnID), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// crashCopy copies the data directory of a running broker, as a crash
// would leave it, and returns the copy.
func crashCopy(t *testing.T, dataDir string) string {
	t.Helper()
	crashed := t.TempDir()
	if err := os.CopyFS(filepath.Join(crashed, "kafka"), os.DirFS(filepath.Join(dataDir, "kafka"))); err != nil {
		t.Fatal(err)
	}
	return crashed
}

// readCommitted reads partition of topic read_committed until it reads
// last (the partition's last record) or 10 s pass, and returns the values
// read.
func readCommitted(t *testing.T, k *embeddedKafka, topic string, partition int32, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for ctx.Err() == nil && (len(got) == 0 || got[len(got)-1] != last) {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// After a clean shutdown kfake keeps an open transaction open (its
// producer may still commit it), so none is aborted at start.
func TestEmbeddedKafkaKeepsTransactionsOpenAcrossACleanShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	k := startBroker(t, dir)
	p := txnProducer(t, k, "sluice-sink-1")
	produceOpen(ctx, t, p, "out", "open")
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k = startBroker(t, dir)
	if k.abortedAtStart != 0 {
		t.Fatalf("%d transactions aborted after a clean shutdown, want none", k.abortedAtStart)
	}
}

// A transaction open at a clean shutdown, then a crash before its
// partition was written again: kfake's partition snapshot from the clean
// shutdown still matched the segments, so kfake loaded it instead of
// replaying them and did not know the transaction; the abort markers of
// the start-up pass were then ignored and the open transaction's records
// read as committed.
func TestEmbeddedKafkaAbortsATransactionOpenAcrossACleanShutdownThenACrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, txnID = "out", "sluice-sink-1"
	dir := t.TempDir()
	k := startBroker(t, dir)
	createTopic(t, k, topic, 1)
	left := txnProducer(t, k, txnID)
	produceOpen(ctx, t, left, topic, "open at the shutdown")
	left.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k = startBroker(t, dir)
	crashed := crashCopy(t, dir)
	_ = k.Close()

	k = startBroker(t, crashed)
	if k.abortedAtStart != 1 {
		t.Errorf("%d open transactions aborted at start, want 1", k.abortedAtStart)
	}
	commitOne(ctx, t, txnProducer(t, k, txnID), topic, "committed")
	want := []string{"committed"}
	if got := readCommitted(t, k, topic, 0, "committed"); !slices.Equal(got, want) {
		t.Errorf("after the clean shutdown and the crash, read_committed reads %q, want %q", got, want)
	}
}

// produceOpen begins a transaction of p and produces value to topic in it,
// leaving it open.
func produceOpen(ctx context.Context, t *testing.T, p *kgo.Client, topic, value string) {
	t.Helper()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// commitOne commits a transaction of p holding one record, value, on topic.
func commitOne(ctx context.Context, t *testing.T, p *kgo.Client, topic, value string) {
	t.Helper()
	produceOpen(ctx, t, p, topic, value)
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}
