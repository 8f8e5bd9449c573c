package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/internal/randtest"
)

// sinkFaultKind is what a faulted request gets instead of its answer.
type sinkFaultKind int

const (
	faultNone sinkFaultKind = iota
	// faultError answers with a retriable error code (for Produce also
	// REQUEST_TIMED_OUT after the records were appended, as a broker whose
	// replication timed out does).
	faultError
	// faultClosed closes the connection instead of answering: the request
	// is lost, the client sees a broken connection. NB: kfake runs controls
	// before it handles a request and nothing after, so it cannot close a
	// connection after applying the request; an applied request whose
	// answer is lost is REQUEST_TIMED_OUT after the append (Produce) and
	// an EndTxn held past the sink's timeout.
	faultClosed
	// faultDelayed answers late.
	faultDelayed
	// faultPastTimeout holds an EndTxn past the sink's timeout: the sink
	// gives up on it while the broker still commits (or, fenced by then,
	// rejects) it.
	faultPastTimeout
	// faultDropped never answers an EndTxn (nor reads the connection on):
	// the sink gives up on it after its timeout. NB: only EndTxn, whose
	// wait the sink bounds (1 s here); a client waits for any other
	// request until its read timeout (10 s and more), too long for this
	// test, and a closed connection is the same fault seen sooner.
	faultDropped
)

func (k sinkFaultKind) String() string {
	return [...]string{"none", "error", "closed", "delayed", "past timeout", "dropped"}[k]
}

// sinkFaults injects seeded random faults into the requests of a
// transactional producer while on is set, and counts them per request kind.
type sinkFaults struct {
	c          *kfake.Cluster
	endTimeout time.Duration
	on         atomic.Bool

	mu     sync.Mutex
	rng    *rand.Rand
	counts map[string]int // "<request> <kind>" -> faults injected
}

// inject faults the first request of key (of topic, if not empty) once on
// is set, and then a share p of them, with one of errs, a closed
// connection or a delay (EndTxn also past the timeout, or never answered).
// The first EndTxn is held past the sink's timeout, so that every run
// restarts producers and reads the progress topic.
func (f *sinkFaults) inject(key kmsg.Key, topic string, p float64, errs ...*kerr.Error) {
	first := true
	f.c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		// NB: a control function must not block but in SleepControl, or
		// the cluster's loop stops with it.
		if !f.on.Load() {
			return nil, nil, false
		}
		f.mu.Lock()
		kind, delay, code := faultNone, time.Duration(0), errs[0]
		if first || f.rng.Float64() < p {
			kinds := []sinkFaultKind{faultError, faultClosed, faultDelayed}
			if key == kmsg.EndTxn {
				kinds = append(kinds, faultPastTimeout, faultDropped)
			}
			kind = kinds[f.rng.IntN(len(kinds))]
			if first && key == kmsg.EndTxn {
				kind = faultPastTimeout
			}
			first = false
			code = errs[f.rng.IntN(len(errs))]
			delay = time.Duration(10+f.rng.IntN(300)) * time.Millisecond
			if kind == faultPastTimeout {
				delay = f.endTimeout + time.Duration(100+f.rng.IntN(1500))*time.Millisecond
			}
			name := kind.String()
			if kind == faultError {
				name = code.Message
			}
			f.counts[key.Name()+" "+name]++
		}
		f.mu.Unlock()
		switch kind {
		case faultError:
			// A fault installed here answers this very request: the
			// cluster checks faults after the controls.
			f.c.Fault(kfake.Fault{Keys: []kmsg.Key{key}, Topic: topic, Err: code})
		case faultClosed:
			f.c.KeepControl()
			return nil, errors.New("fault: connection closed"), true
		case faultDropped:
			f.c.KeepControl()
			return nil, nil, true
		case faultDelayed, faultPastTimeout:
			f.c.SleepControl(func() { time.Sleep(delay) })
		}
		return nil, nil, false
	})
}

// faulted returns how many faults requests of key got.
func (f *sinkFaults) faulted(key kmsg.Key) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, c := range f.counts {
		if strings.HasPrefix(k, key.Name()+" ") {
			n += c
		}
	}
	return n
}

func (f *sinkFaults) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, n := range f.counts {
		out = append(out, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// While a view with retractions changes, the broker fails, drops and
// delays the requests of the sinks' transactional producers at random:
// Produce, AddPartitionsToTxn (older brokers; newer ones add partitions
// with the produce), EndTxn (also held past the sink's timeout, so its
// outcome is unknown and settled from the progress topic),
// InitProducerID, FindCoordinator and the fetches of the progress topic.
// Once the faults stop, the upsert topic folded by key and the append topic
// summed per row equal the view, no record of a retried transaction is
// there twice, and every sequence number was committed once. The seed is
// logged; SLUICE_SEED replays its draws (the requests' interleaving
// is the scheduler's).
func TestSinkKafkaBrokerFaults(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(randtest.Seed(t)), 0))
	// Kafka 3.9 brokers have producers add partitions with
	// AddPartitionsToTxn; 4.x ones (KIP-890) with the produce itself, and
	// bump the producer epoch at every EndTxn.
	addPartitions := rng.IntN(2) == 0
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}
	if addPartitions {
		opts = append(opts, kfake.MaxVersions(kversion.V3_9_0()))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	txnRows := 1 + rng.IntN(4)
	t.Logf("AddPartitionsToTxn: %v, %d rows a transaction", addPartitions, txnRows)

	const endTimeout = time.Second // startSinkServer's
	faults := &sinkFaults{c: c, endTimeout: endTimeout, rng: rng, counts: map[string]int{}}
	faults.inject(kmsg.Produce, "", 0.1, kerr.NotLeaderForPartition, kerr.RequestTimedOut, kerr.NotEnoughReplicasAfterAppend)
	faults.inject(kmsg.AddPartitionsToTxn, "", 0.15, kerr.ConcurrentTransactions, kerr.NotCoordinator, kerr.CoordinatorLoadInProgress)
	faults.inject(kmsg.EndTxn, "", 0.1, kerr.ConcurrentTransactions, kerr.NotCoordinator, kerr.CoordinatorNotAvailable)
	faults.inject(kmsg.InitProducerID, "", 0.3, kerr.ConcurrentTransactions, kerr.NotCoordinator, kerr.CoordinatorLoadInProgress)
	faults.inject(kmsg.FindCoordinator, "", 0.3, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress)
	// Only the sinks fetch while faults are on: the stream is fed by INSERT.
	faults.inject(kmsg.Fetch, kafka.ProgressTopic, 0.3, kerr.NotLeaderForPartition, kerr.RequestTimedOut)

	srv := startSinkServer(t, t.TempDir(), c, engine.WithSinkTransactionRows(txnRows))
	conn := connect(t, srv)
	for _, stmt := range strings.Split(strings.TrimSpace(sinkSchema), ";") {
		mustExec(t, conn, stmt)
	}
	keys := []kmsg.Key{kmsg.Produce, kmsg.EndTxn, kmsg.InitProducerID, kmsg.FindCoordinator, kmsg.Fetch}
	if addPartitions {
		keys = append(keys, kmsg.AddPartitionsToTxn)
	}
	// unfaulted returns the request kinds no fault has hit yet.
	unfaulted := func() []string {
		var out []string
		for _, key := range keys {
			if faults.faulted(key) == 0 {
				out = append(out, key.Name())
			}
		}
		return out
	}
	// Faults go on for 10 s, and longer (to 20 s) until every kind of
	// request was hit: the progress topic is read only after an EndTxn
	// failed and a new producer started, which faults can delay.
	began := time.Now()
	faults.on.Store(true)
	round := 0
	for since := time.Duration(0); since < 10*time.Second || since < 20*time.Second && len(unfaulted()) > 0; since = time.Since(began) {
		sinkRound(t, conn, round)
		round++
		time.Sleep(20 * time.Millisecond)
	}
	faults.on.Store(false)
	t.Logf("%d rounds in %v; faults: %s", round, time.Since(began).Round(time.Millisecond), faults)
	if missed := unfaulted(); len(missed) > 0 {
		t.Errorf("no fault hit %s; the test did not test it", strings.Join(missed, ", "))
	}
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Deferred so that a transaction committed twice is named even when
	// the topics never equal the view.
	defer func() {
		expectNoRepeatedUpserts(t, readTopic(t, c, "up"))
		expectMarkersOnce(t, readTopic(t, c, kafka.ProgressTopic))
	}()
	caughtUp := time.Now()
	expectSinks(t, c, conn)
	t.Logf("sinks caught up in %v", time.Since(caughtUp).Round(time.Millisecond))
}

// expectNoRepeatedUpserts fails if a key's value (or tombstone) follows
// itself: transactions are consolidated against what was committed, so
// only a transaction committed twice writes a key's value again.
func expectNoRepeatedUpserts(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	last := map[string]*kgo.Record{}
	for _, r := range recs {
		if prev, ok := last[string(r.Key)]; ok && (prev.Value == nil) == (r.Value == nil) && string(prev.Value) == string(r.Value) {
			t.Errorf("upsert topic: key %s has %q at offsets %d and %d of partition %d", r.Key, r.Value, prev.Offset, r.Offset, r.Partition)
		}
		last[string(r.Key)] = r
	}
}

// expectMarkersOnce fails unless each sink's committed progress markers
// have increasing sequence numbers: a retried transaction committed twice
// would commit its number twice.
func expectMarkersOnce(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	last := map[string]uint64{}
	for _, r := range recs {
		if strings.HasSuffix(string(r.Key), "/probe") {
			continue
		}
		seq, err := strconv.ParseUint(string(r.Value), 10, 64)
		if err != nil {
			t.Fatalf("progress marker %s=%q: %v", r.Key, r.Value, err)
		}
		if prev, ok := last[string(r.Key)]; ok && seq <= prev {
			t.Errorf("progress topic: %s committed transaction %d after %d (offset %d)", r.Key, seq, prev, r.Offset)
		}
		last[string(r.Key)] = seq
	}
	if len(last) != 2 {
		t.Errorf("progress topic: markers of %d sinks, want 2", len(last))
	}
}
