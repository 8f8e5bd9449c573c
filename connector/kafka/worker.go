package kafka

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// worker decodes the records of its partitions into one chunk and hands it
// to its deliverer when it is big enough, when the deliverer is idle and no
// more fetched records wait, or when its first row has waited MaxDelay with
// no more records waiting. The deliverer commits one batch while the worker
// decodes the next: decoding and committing each take about half of a
// batch's time. So batches grow while commits are busy or the source is
// behind (full batches, which storage keeps as segments without copying),
// and a lone record is committed at once (freshness when the stream is
// quiet).
//
// A small fetch that finds the worker idle is decoded by the poll goroutine
// that fetched it (see smallFetch), and a batch held back for its deadline
// because the deliverer was busy is taken by the deliverer as soon as it is
// done: a lone record goes from its poll to the deliverer, where it waited
// for the worker to be scheduled and handed its batch on, and a record
// fetched during a commit waited for the deadline (50 ms). Commits are not
// made on the poll goroutine: fetching one record while the last commits
// is what keeps a quiet stream's records from queueing up behind slow
// commits.
type worker struct {
	s  *Source
	in <-chan fetched
	// lock serializes the worker's goroutine, the poll goroutines and the
	// deliverer over the batch, the decoders, the timer and busy. It is a
	// channel of capacity one (a send locks, a receive unlocks), not a
	// sync.Mutex, so that the deliverer can wait for it and for a batch
	// its holder hands over at once (see next).
	lock chan struct{}
	// queued counts the fetches handed to in and not yet decoded: a poll
	// goroutine decodes a fetch itself only when none is, so a partition's
	// fetches are decoded in order.
	queued   atomic.Int32
	out      chan *Batch    // full batches, in order, to the deliverer
	inflight sync.WaitGroup // batches handed out and not yet delivered
	// busy says the deliverer has a batch: set by whoever hands it one,
	// cleared by the deliverer once it has none left, both under lock, so
	// that a holder that sees it busy and holds its batch back leaves the
	// batch for the deliverer to take.
	busy bool
	// closed is set, under lock, once out is closed.
	closed bool
	value  format.Decoder
	key    format.Decoder
	// batch is the batch being decoded, nil from a flush until the next
	// fetch comes; last is the rows of the batch flushed last.
	batch    *Batch
	last     int
	valCols  []*coldata.Vec
	keyCols  []*coldata.Vec
	hdrBuf   []byte
	deadline *time.Timer
	armed    bool
}

// smallFetch bounds the fetches (records) a poll goroutine decodes itself
// rather than hand them to the worker: a bigger one keeps the pipeline (the
// poll goroutine polls the next fetch while the worker decodes).
const smallFetch = 4096

func (s *Source) newWorker(in <-chan fetched) *worker {
	w := &worker{s: s, in: in, lock: make(chan struct{}, 1), out: make(chan *Batch), value: s.cfg.Value.NewDecoder(), deadline: time.NewTimer(time.Hour)}
	w.deadline.Stop()
	if s.cfg.Key != nil {
		w.key = s.cfg.Key.NewDecoder()
	}
	return w
}

// reset starts a batch sized for want rows, the more of the previous batch's
// rows and the fetch's records it starts with: full while the source is
// behind, as storage adopts a batch only if it nearly fills its vectors,
// and growing one to full size by appending would copy it several times
// (sized for the previous batch alone, one flushed small while its
// deliverer was idle, a batch grew as a fetch of thousands of records
// filled it: Nexmark q0 over Kafka grew its batches' vectors by 71 MB in
// a drain of 1 M events, 38 MB sized for the fetch too); small while the stream is quiet, as a batch of a few rows made
// at BatchRows allocated and zeroed ~5 MB (Nexmark bids) at every
// delivery, up to hundreds a second. It is made when the first fetch
// after a flush comes, not at the flush: a stream that has gone quiet (or
// a topic read to its end) holds no batch, where each of its workers held
// one sized for its last, up to ~7 MB (Nexmark auctions), which the
// collector counted as live and paced the heap's growth by.
func (w *worker) reset(want int) {
	l := w.s.cfg.Layout
	n := coldata.DefaultChunkSize
	for n < want {
		n *= 2
	}
	n = min(n, w.s.cfg.BatchRows)
	rows := coldata.NewChunk(l.Types, n)
	w.batch = &Batch{Rows: rows, Offsets: map[Partition]int64{}, RecordOffsets: make([]int64, 0, n)}
	w.valCols = w.valCols[:0]
	for _, c := range l.Value {
		w.valCols = append(w.valCols, rows.Cols[c])
	}
	w.keyCols = w.keyCols[:0]
	for _, c := range l.Key {
		w.keyCols = append(w.keyCols, rows.Cols[c])
	}
}

// fit makes room in the batch for n more rows, up to BatchRows, growing
// its vectors at most once: to the next power of two, at most BatchRows.
// Left to the decoder's appends, a batch sized for the last fetch grew by
// a quarter at a time past 256 rows, copying every vector once a step
// (three times from 32 Ki rows to a full batch), and ended with more
// capacity than BatchRows, which storage does not adopt as a segment but
// copies again (storage.adoptableGiven).
func (w *worker) fit(n int) {
	b := w.batch
	need := min(b.Rows.Len+n, w.s.cfg.BatchRows)
	if need <= cap(b.RecordOffsets) {
		return
	}
	c := coldata.DefaultChunkSize
	for c < need {
		c *= 2
	}
	c = min(c, w.s.cfg.BatchRows)
	for _, v := range b.Rows.Cols {
		v.GrowExact(c)
	}
	offsets := make([]int64, len(b.RecordOffsets), c)
	copy(offsets, b.RecordOffsets)
	b.RecordOffsets = offsets
}

func (w *worker) run() {
	delivering := make(chan struct{})
	go func() { defer close(delivering); w.deliver() }()
	defer func() {
		w.acquire()
		w.closed = true
		close(w.out)
		w.release()
		<-delivering
	}()
	for {
		select {
		case <-w.s.ctx.Done():
			return
		case f := <-w.in:
			w.acquire()
			w.queued.Add(-1)
			w.take(f)
			w.release()
		case <-w.deadline.C:
			w.acquire()
			w.expire()
			w.release()
		}
	}
}

func (w *worker) acquire() { w.lock <- struct{}{} }
func (w *worker) release() { <-w.lock }

// tryTake decodes f on the calling goroutine, as run would, if f is small
// and the worker is idle (no fetch queued, nothing being decoded), and
// reports whether it did.
func (w *worker) tryTake(f fetched) bool {
	if len(f.records) > smallFetch || w.queued.Load() > 0 {
		return false
	}
	select {
	case w.lock <- struct{}{}:
	default:
		return false
	}
	defer w.release()
	if w.closed || w.queued.Load() > 0 || w.s.ctx.Err() != nil {
		return false
	}
	w.take(f)
	return true
}

// take decodes f and flushes the batch if it is full, or if no more fetched
// records wait and the deliverer is idle; otherwise it arms the deadline.
// The caller holds lock.
func (w *worker) take(f fetched) {
	w.decode(f)
	if w.batch == nil {
		return // a record failed with on_error = 'fail': the source stops
	}
	if w.batch.Rows.Len >= w.s.cfg.BatchRows || w.queued.Load() == 0 && !w.busy {
		w.flush()
	} else {
		if !w.armed {
			w.deadline.Reset(w.s.cfg.MaxDelay)
			w.armed = true
		}
		if h := w.s.cfg.knobs.heldBack; h != nil {
			h()
		}
	}
}

// expire flushes the batch when its deadline passes. The caller holds
// lock. NB: a poll goroutine or the deliverer may have flushed, and a
// decode armed the deadline again, between the timer firing and lock: the
// batch is then flushed early.
func (w *worker) expire() {
	w.armed = false
	if w.queued.Load() > 0 {
		// Behind: records are waiting, so the delay bounds nothing and a
		// full batch is cheaper to commit (storage keeps it as its segment
		// instead of copying it). The next decode arms the deadline again.
		return
	}
	w.flush()
}

// flush hands the batch to the deliverer, unless it is empty. The caller
// holds lock.
func (w *worker) flush() {
	if w.armed {
		w.deadline.Stop()
		w.armed = false
	}
	b := w.batch
	if b == nil || b.Rows.Len == 0 && len(b.Dead) == 0 && len(b.Offsets) == 0 {
		return
	}
	w.inflight.Add(1)
	select {
	case w.out <- b:
		w.busy = true
		w.batch, w.last = nil, b.Rows.Len
	case <-w.s.ctx.Done():
		w.inflight.Done()
	}
}

// deliver delivers the batches flush hands out, in order, until out is
// closed, and after each the batch the worker holds back, if any (see
// next). After a failed delivery it delivers nothing more: the source has
// stopped, and a restart reads the rest again.
func (w *worker) deliver() {
	failed := false
	for b := range w.out {
		for ; b != nil; b = w.next() {
			if !failed {
				if err := w.s.cfg.Target.Deliver(w.s.ctx, b); err != nil {
					failed = true
					if w.s.ctx.Err() == nil {
						w.s.fail(err)
					}
				} else {
					w.s.delivered(b)
				}
			}
			w.inflight.Done()
		}
	}
}

// next returns, to the deliverer done with a batch, the batch a holder of
// lock hands over meanwhile, else the batch the worker holds back for its
// deadline, unless fetches wait to be decoded into it; nil, and the
// deliverer idle, if neither (or once out is closed). It waits for lock:
// it used to try it only, and a holder that had seen the deliverer busy
// just before it finished held its batch back, so that the try failed and
// the batch waited for its deadline. NB: waiting for lock alone would
// deadlock with a holder blocked handing the deliverer a batch.
func (w *worker) next() *Batch {
	select {
	case b := <-w.out:
		return b
	case w.lock <- struct{}{}:
	}
	defer w.release()
	b := w.batch
	if b == nil || w.queued.Load() > 0 || b.Rows.Len == 0 && len(b.Dead) == 0 && len(b.Offsets) == 0 {
		// A fetch queued will be decoded, and the batch flushed, seeing the
		// deliverer idle.
		w.busy = false
		return nil
	}
	if w.armed {
		w.deadline.Stop()
		w.armed = false
	}
	w.inflight.Add(1)
	w.batch, w.last = nil, b.Rows.Len
	return b
}

// decode appends f's records to the batch. A batch never grows past
// BatchRows: a full one is delivered in the middle of f, so that storage
// can keep batches of its segment size as they are.
func (w *worker) decode(f fetched) {
	if w.batch == nil {
		w.reset(max(w.last, len(f.records)))
	} else {
		w.fit(len(f.records))
	}
	st := w.s.stat(f.p)
	defer w.noteRun(f.p)
	var bytes, dead int64
	for i, r := range f.records {
		bytes += int64(len(r.Value) + len(r.Key))
		if err := w.decodeRecord(r); err != nil {
			if errors.Is(err, format.ErrSkip) {
				continue
			}
			if w.s.cfg.Options.FailOnError {
				// Keep what came before the bad record; a restart reads
				// from it again.
				w.batch.Offsets[f.p] = r.Offset
				st.addRead(int64(len(f.records)), bytes, dead)
				w.noteRun(f.p)
				w.flush()
				w.inflight.Wait()
				w.s.fail(&RecordError{Partition: f.p, Offset: r.Offset, Err: err})
				return
			}
			w.batch.Dead = append(w.batch.Dead, DeadLetter{Partition: f.p, Offset: r.Offset,
				Value: append([]byte(nil), r.Value...), Err: err.Error(), Timestamp: r.Timestamp})
			dead++
			continue
		}
		w.batch.Rows.Len++
		w.batch.RecordOffsets = append(w.batch.RecordOffsets, r.Offset)
		if w.batch.Rows.Len == w.s.cfg.BatchRows && i < len(f.records)-1 {
			w.batch.Offsets[f.p] = r.Offset + 1
			w.noteRun(f.p)
			w.flush()
			if w.s.ctx.Err() != nil {
				return
			}
			w.reset(w.last)
		}
	}
	w.batch.Offsets[f.p] = f.records[len(f.records)-1].Offset + 1
	st.addRead(int64(len(f.records)), bytes, dead)
}

// noteRun records that the batch's rows since the last run came from p.
func (w *worker) noteRun(p Partition) {
	b := w.batch
	if b == nil {
		return // flushed by a failing record
	}
	start := 0
	if n := len(b.Runs); n > 0 {
		start = b.Runs[n-1].End
		if b.Runs[n-1].Partition == p {
			b.Runs[n-1].End = b.Rows.Len
			return
		}
	}
	if b.Rows.Len > start {
		b.Runs = append(b.Runs, Run{Partition: p, End: b.Rows.Len})
	}
}

// decodeRecord appends one row, or nothing and an error.
func (w *worker) decodeRecord(r *kgo.Record) error {
	n := w.batch.Rows.Len
	if err := w.value.Decode(r.Value, w.valCols); err != nil {
		return err
	}
	if w.key != nil {
		if err := w.key.Decode(r.Key, w.keyCols); err != nil {
			for _, v := range w.valCols {
				v.Truncate(n)
			}
			return &KeyError{Err: err}
		}
	}
	for c, m := range w.s.cfg.Layout.Meta {
		w.appendMeta(w.batch.Rows.Cols[c], m, r)
	}
	return nil
}

func (w *worker) appendMeta(v *coldata.Vec, m MetaColumn, r *kgo.Record) {
	switch m {
	case MetaTopic:
		v.AppendString(r.Topic)
	case MetaPartition:
		v.AppendInt(int64(r.Partition))
	case MetaOffset:
		v.AppendInt(r.Offset)
	case MetaTimestamp:
		v.AppendInt(r.Timestamp.UnixMicro())
	case MetaKey:
		if r.Key == nil {
			v.Append(nil)
		} else {
			v.AppendString(string(r.Key))
		}
	case MetaHeaders:
		w.hdrBuf = append(w.hdrBuf[:0], '{')
		for i, h := range r.Headers {
			if i > 0 {
				w.hdrBuf = append(w.hdrBuf, ", "...)
			}
			w.hdrBuf = types.AppendJSONString(w.hdrBuf, h.Key)
			w.hdrBuf = append(w.hdrBuf, ": "...)
			w.hdrBuf = types.AppendJSONString(w.hdrBuf, string(h.Value))
		}
		w.hdrBuf = append(w.hdrBuf, '}')
		// Duplicate keys keep the last value, as jsonb does.
		canon, err := types.CanonicalJSONB(string(w.hdrBuf))
		if err != nil {
			v.Append(nil)
			return
		}
		v.AppendString(canon)
	}
}
