package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProgressTopic holds the sinks' progress markers: each sink transaction
// writes one record (key: the sink's transactional id, value: the
// transaction's sequence number) here beside its output, so that whether a
// transaction committed can be read back from Kafka instead of guessed.
// It has one partition, so that a marker's offset alone names it, and is
// compacted: a sink's last marker, the only one ever read back, stays.
const ProgressTopic = "_sluice_sink_progress"

// probeSuffix makes the key of the probe a producer commits when it
// starts (its transactional id + probeSuffix): the probe fences the sink's
// earlier producers (ending a transaction one left open) and puts a
// committed record after every marker they wrote. Its key is not the
// markers' so that compaction, which keeps the last record of each key,
// never removes the last marker for a probe.
const probeSuffix = "/probe"

// Marker is where a sink transaction's progress record was written.
type Marker struct {
	Seq    uint64
	Offset int64 // in partition 0 of ProgressTopic
}

// TxnProducer writes a sink's output in Kafka transactions under one
// transactional id, stable per sink, so that a new producer fences every
// earlier one. Its client is replaced (never reused) after any error whose
// outcome the producer cannot know. It is used by one goroutine at a time.
type TxnProducer struct {
	opts  *SinkOptions
	txnID string
	// EndTimeout bounds EndTxn: an EndTxn that takes longer has an
	// indefinite outcome, which Resolve settles.
	endTimeout time.Duration
	cl         *kgo.Client
}

// NewTxnProducer makes sure the progress topic exists and starts a producer
// with transactional id txnID, fencing the earlier ones.
func NewTxnProducer(ctx context.Context, opts *SinkOptions, txnID string, endTimeout time.Duration) (*TxnProducer, error) {
	p := &TxnProducer{opts: opts, txnID: txnID, endTimeout: endTimeout}
	if err := p.createProgressTopic(ctx); err != nil {
		return nil, err
	}
	if err := p.restart(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *TxnProducer) clientOpts(more ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt{kgo.SeedBrokers(p.opts.Brokers...)}, p.opts.clientOpts...), more...)
}

func (p *TxnProducer) createProgressTopic(ctx context.Context) error {
	cl, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka sink %s: %w", p.txnID, err)
	}
	defer cl.Close()
	compact := "compact"
	_, err = kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, ProgressTopic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("kafka sink %s: creating %s: %w", p.txnID, ProgressTopic, err)
	}
	return nil
}

// restart replaces the client with a new one under the same transactional
// id and commits a probe: its InitProducerID bumps the producer epoch,
// which fences the old client and ends the transaction it had open (a
// commit the coordinator had already taken completes; anything else
// aborts).
func (p *TxnProducer) restart(ctx context.Context) error {
	p.Close()
	cl, err := kgo.NewClient(p.clientOpts(kgo.TransactionalID(p.txnID), kgo.AllowAutoTopicCreation(),
		kgo.TransactionTimeout(p.transactionTimeout()))...)
	if err != nil {
		return fmt.Errorf("kafka sink %s: %w", p.txnID, err)
	}
	p.cl = cl
	if _, err := p.send(ctx, nil, &kgo.Record{Topic: ProgressTopic, Key: []byte(p.txnID + probeSuffix)}); err != nil {
		return err
	}
	if err := p.Commit(ctx); err != nil {
		return fmt.Errorf("kafka sink %s: committing the probe marker: %w", p.txnID, err)
	}
	return nil
}

// Send begins a transaction and produces recs and the progress marker of
// sequence number seq, waiting until all are written (not committed). On
// an error the transaction is abandoned: the caller closes the producer
// and starts a new one, which fences it.
func (p *TxnProducer) Send(ctx context.Context, recs []*kgo.Record, seq uint64) (Marker, error) {
	marker := &kgo.Record{Topic: ProgressTopic, Key: []byte(p.txnID), Value: strconv.AppendUint(nil, seq, 10)}
	off, err := p.send(ctx, recs, marker)
	return Marker{Seq: seq, Offset: off}, err
}

func (p *TxnProducer) send(ctx context.Context, recs []*kgo.Record, marker *kgo.Record) (int64, error) {
	if err := p.cl.BeginTransaction(); err != nil {
		return 0, fmt.Errorf("kafka sink %s: begin transaction: %w", p.txnID, err)
	}
	all := append(recs[:len(recs):len(recs)], marker)
	if err := p.cl.ProduceSync(ctx, all...).FirstErr(); err != nil {
		return 0, fmt.Errorf("kafka sink %s: produce: %w", p.txnID, err)
	}
	return marker.Offset, nil
}

// Commit commits the open transaction. An error means the outcome is not
// known (the commit may or may not have happened): settle it with Resolve.
func (p *TxnProducer) Commit(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.endTimeout)
	defer cancel()
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka sink %s: end transaction: %w", p.txnID, err)
	}
	return nil
}

// transactionTimeout is how long the broker lets a transaction of this
// producer stay open before it aborts it.
func (p *TxnProducer) transactionTimeout() time.Duration { return max(time.Minute, 4*p.endTimeout) }

// Resolve settles whether the transaction of marker m committed. It
// restarts the producer first (fencing the old client, so the transaction's
// outcome is final and a committed probe marker follows m), then reads the
// progress topic read_committed from m's offset: the first record visible
// at or after it is m itself exactly when m's transaction committed.
//
// Another producer's transaction open on the progress topic holds its
// committed records back until it ends, at the latest when the broker
// aborts it after its transaction timeout; Resolve gives up after twice
// that (the sink then tries again) rather than wait without end.
func (p *TxnProducer) Resolve(ctx context.Context, m Marker) (bool, error) {
	if err := p.restart(ctx); err != nil {
		return false, err
	}
	wait := 2 * p.transactionTimeout()
	ctx, cancel := context.WithTimeoutCause(ctx, wait,
		fmt.Errorf("kafka sink %s: %s held its committed records below marker %d for %s (a transaction left open on it?)", p.txnID, ProgressTopic, m.Offset, wait))
	defer cancel()
	cl, err := kgo.NewClient(p.clientOpts(kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{ProgressTopic: {0: kgo.NewOffset().At(m.Offset)}}))...)
	if err != nil {
		return false, fmt.Errorf("kafka sink %s: %w", p.txnID, err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.Canceled) {
				return false, fmt.Errorf("kafka sink %s: reading %s: %w", p.txnID, ProgressTopic, fe.Err)
			}
		}
		var found, committed bool
		fs.EachRecord(func(r *kgo.Record) {
			if found || r.Offset < m.Offset {
				return
			}
			found = true
			committed = r.Offset == m.Offset && string(r.Key) == p.txnID && string(r.Value) == strconv.FormatUint(m.Seq, 10)
		})
		if found {
			return committed, nil
		}
	}
}

// Close closes the client; an open transaction is left to be fenced by the
// next producer (or to time out).
func (p *TxnProducer) Close() {
	if p.cl != nil {
		p.cl.Close()
		p.cl = nil
	}
}
