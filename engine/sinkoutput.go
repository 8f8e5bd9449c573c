package engine

import (
	"context"
	"fmt"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/connector/webhook"
	"github.com/sluice-db/sluice/sqlerr"
)

// sinkOutput is where a sink's transactions go: a kafka topic (exactly
// once) or a webhook (at least once).
type sinkOutput interface {
	// recover settles the pending transaction an earlier attempt left.
	recover(ctx context.Context, st *sinkState) error
	// emit writes changes (consolidated, not empty) as st's next
	// transaction and settles it.
	emit(ctx context.Context, st *sinkState, changes *coldata.Chunk) error
	close()
}

// open starts the output of sink spec sp.
func (r *runningSink) open(ctx context.Context, sp *sinkSpec) (sinkOutput, error) {
	e := r.e
	if sp.webhook != nil {
		return &webhookOutput{r: r, sink: webhook.NewSink(sp.webhook, sp.target.names, sp.key, e.viewConfig())}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, sinkConnectTimeout)
	defer cancel()
	prod, err := kafka.NewTxnProducer(cctx, sp.kafka, r.desc.TransactionalID(), e.sinkEndTimeout)
	if err != nil {
		return nil, sqlerr.New(sqlerr.ConnectionFailure, "sink \"%s\": cannot start its kafka producer: %v", r.desc.Name, err)
	}
	enc, err := sp.kafka.NewEncoder(cctx, r.desc.Name, sp.target.names, sp.target.types, sp.key, e.viewConfig())
	if err != nil {
		prod.Close()
		return nil, err
	}
	return &kafkaOutput{r: r, prod: prod, enc: enc}, nil
}

// kafkaOutput writes each transaction as a Kafka transaction with a
// progress marker (docs/sinks.md).
type kafkaOutput struct {
	r    *runningSink
	prod *kafka.TxnProducer
	enc  *kafka.SinkEncoder
}

// emit writes the records and the marker, makes the pending record
// durable, ends the Kafka transaction, then folds the changes into the
// emitted rows. An EndTxn that fails is settled from the progress topic,
// never guessed.
func (o *kafkaOutput) emit(ctx context.Context, st *sinkState, changes *coldata.Chunk) error {
	e, name := o.r.e, o.r.desc.Name
	m, err := o.prod.Send(ctx, o.enc.Records(changes), st.seq+1)
	if err != nil {
		return err
	}
	if err := st.writePending(m.Seq, m.Offset, changes); err != nil {
		return err
	}
	if err := e.sinkHook(ctx, name, SinkPendingWritten); err != nil {
		return err
	}
	if err := o.prod.Commit(ctx); err != nil {
		e.log.Warn("engine: sink transaction outcome unknown; settling it from the progress topic", "sink", name, "seq", m.Seq, "err", err)
		if err := o.recover(ctx, st); err != nil {
			return err
		}
		if st.seq != m.Seq {
			return fmt.Errorf("transaction %d aborted", m.Seq)
		}
		return nil
	}
	if err := e.sinkHook(ctx, name, SinkCommitted); err != nil {
		return err
	}
	return st.settle(true)
}

// recover restarts the producer (fencing the one that wrote the pending
// transaction) and reads from the progress topic whether it committed.
func (o *kafkaOutput) recover(ctx context.Context, st *sinkState) error {
	p := st.pending
	committed, err := o.prod.Resolve(ctx, kafka.Marker{Seq: p.seq, Offset: p.markerOffset})
	if err != nil {
		return err
	}
	o.r.e.log.Info("engine: sink transaction settled", "sink", o.r.desc.Name, "seq", p.seq, "committed", committed)
	return st.settle(committed)
}

func (o *kafkaOutput) close() { o.prod.Close() }

// webhookOutput posts each transaction as one batch.
type webhookOutput struct {
	r    *runningSink
	sink *webhook.Sink
}

// emit makes the pending record durable, then posts the batch until the
// endpoint takes it: after a crash the same batch, with the same
// idempotency keys, is posted again.
func (o *webhookOutput) emit(ctx context.Context, st *sinkState, changes *coldata.Chunk) error {
	if err := st.writePending(st.seq+1, 0, changes); err != nil {
		return err
	}
	if err := o.r.e.sinkHook(ctx, o.r.desc.Name, SinkPendingWritten); err != nil {
		return err
	}
	return o.recover(ctx, st)
}

func (o *webhookOutput) recover(ctx context.Context, st *sinkState) error {
	p := st.pending
	if err := o.sink.Post(ctx, fmt.Sprintf("%s-%d", o.r.desc.TransactionalID(), p.seq), p.changes); err != nil {
		return err
	}
	if err := o.r.e.sinkHook(ctx, o.r.desc.Name, SinkCommitted); err != nil {
		return err
	}
	return st.settle(true)
}

func (o *webhookOutput) close() {}
