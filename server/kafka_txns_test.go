package server

import (
	"context"
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
	createTopic(t, k, topic)
	left := txnProducer(t, k, txnID)
	if err := left.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := left.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("open at the crash")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, dir)
	left.Close()
	_ = k.Close()

	k = startBroker(t, crashed)
	if k.abortedAtStart != 1 {
		t.Errorf("%d open transactions aborted at start, want 1", k.abortedAtStart)
	}
	next := txnProducer(t, k, txnID)
	if err := next.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := next.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := next.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	want := []string{"committed"}
	if got := readCommitted(t, k, topic, "committed"); !slices.Equal(got, want) {
		t.Errorf("after the crash, read_committed reads %q, want %q", got, want)
	}

	crashedAgain := crashCopy(t, crashed)
	next.Close()
	_ = k.Close()
	k = startBroker(t, crashedAgain)
	if got := readCommitted(t, k, topic, "committed"); !slices.Equal(got, want) {
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
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	k := startBroker(t, dir)
	createTopic(t, k, topic)
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
	if got := readCommitted(t, k, topic, "two"); !slices.Equal(got, want) {
		t.Errorf("after the crash, read_committed reads %q, want %q", got, want)
	}

	crashedAgain := crashCopy(t, crashed)
	p.Close()
	_ = k.Close()
	k = startBroker(t, crashedAgain)
	if k.indexesRealigned != 0 {
		t.Errorf("%d indexes realigned after the second crash, want 0", k.indexesRealigned)
	}
	if got := readCommitted(t, k, topic, "two"); !slices.Equal(got, want) {
		t.Fatalf("after a second crash, read_committed reads %q, want %q", got, want)
	}
}

// createTopic creates topic with one partition.
func createTopic(t *testing.T, k *embeddedKafka, topic string) {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 1, -1, nil, topic); err != nil {
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

// readCommitted reads partition 0 of topic read_committed until it reads
// last (the partition's last record) or 10 s pass, and returns the values
// read.
func readCommitted(t *testing.T, k *embeddedKafka, topic, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
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
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "out", Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k = startBroker(t, dir)
	if k.abortedAtStart != 0 {
		t.Fatalf("%d transactions aborted after a clean shutdown, want none", k.abortedAtStart)
	}
}
