package storage

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/sqlerr"
)

// Group commit. Most of a small commit's time is its syncs (its streams'
// history logs, then the Pebble WAL), and a commit arriving while another
// one syncs used to wait for it and then sync alone. Now commits queue;
// the one at the head leads: under commitMu it takes the longest prefix of
// the queue whose commits do not depend on each other (groupFootprint) and
// whose commits after the head are small (groupJoinRows: a big one would
// make the small ones before it wait for its encoding and sync),
// prepares each in queue order (validation, encoding, history frames
// written unsynced), syncs each history log the group appended to once,
// commits the group's Pebble batches as one synced batch, and publishes
// the commits in queue order. Then it hands the lead to the new head. A
// commit that fails validation fails alone; a failed sync or batch commit
// fails every commit of the group that got that far.

// groupJoinRows is how many rows the commits that join a group behind its
// head may write together.
const groupJoinRows = 4096

// queuedCommit is a Txn in the commit queue.
type queuedCommit struct {
	tx     *Txn
	queued time.Time
	// ready is closed when the commit is done (done is set, and err) or
	// leads the next group.
	ready chan struct{}
	done  bool
	err   error

	// What prepare wrote, for makeDurable and publish.
	b          *pebble.Batch
	skip       func(*Table) bool
	appends    []historyAppend
	watermarks []tableWatermark
}

// commit queues tx and returns once its group has committed it (or it
// failed).
func (db *DB) commit(tx *Txn) error {
	c := &queuedCommit{tx: tx, queued: time.Now(), ready: make(chan struct{})}
	db.queueMu.Lock()
	db.queue = append(db.queue, c)
	leads := !db.leading
	db.leading = true
	db.queueMu.Unlock()
	if !leads {
		<-c.ready
		if c.done {
			return c.err
		}
	}
	// c leads, and is at the head of the queue.
	db.lead()
	return c.err
}

// lead commits the group at the head of the queue and hands the lead to
// the next head. A panic fails the group's commits and hands the lead on
// before it goes up, so that the commits queued behind do not wait forever.
func (db *DB) lead() {
	var group []*queuedCommit
	defer func() {
		r := recover()
		db.queueMu.Lock()
		for _, m := range group {
			if r != nil {
				m.err = sqlerr.Bug("storage: commit group failed: %v", r)
			}
			m.done = true
			if m != group[0] {
				close(m.ready)
			}
		}
		if len(db.queue) > 0 {
			close(db.queue[0].ready) // the next leader
		} else {
			db.leading = false
		}
		db.queueMu.Unlock()
		if r != nil {
			panic(r)
		}
	}()
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	group = db.takeGroup()
	db.commitGroup(group)
}

// takeGroup removes the next group from the head of the queue. Caller
// holds db.commitMu (admit reads the tables' logs).
func (db *DB) takeGroup() []*queuedCommit {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	var f groupFootprint
	n := 0
	for n < len(db.queue) && f.admit(db.queue[n].tx) {
		n++
	}
	group := slices.Clone(db.queue[:n])
	db.queue = append(db.queue[:0], db.queue[n:]...)
	return group
}

// groupFootprint is what the commits taken into a group so far write. A
// commit joins only if none of them writes what it validates against or
// encodes from, so that it can be prepared before they are published.
// Appends to a stream whose history log exists share the stream (each
// goes after the frames of the ones before), as do watermarks (each is
// raised over the one before); any other write to a table, and each meta
// record, is one commit's. A commit that creates, drops or alters tables
// commits alone.
type groupFootprint struct {
	started bool
	alone   bool
	joined  int             // rows written by the commits behind the head
	tables  map[*Table]bool // true: written by one commit only
	meta    map[string]bool
}

// admit reports whether tx joins the group, and adds what it writes if so.
func (f *groupFootprint) admit(tx *Txn) bool {
	ddl := len(tx.creates) > 0 || len(tx.dropIDs) > 0 || len(tx.addCols) > 0
	if !f.started {
		f.started, f.alone = true, ddl
		f.tables, f.meta = map[*Table]bool{}, map[string]bool{}
	} else {
		rows := tx.rows()
		if f.alone || ddl || f.joined+rows > groupJoinRows {
			return false
		}
		for _, tt := range tx.order {
			if own, ok := f.tables[tt.t]; ok && (own || !sharesAppend(tt)) {
				return false
			}
		}
		for t := range tx.watermarks {
			if f.tables[t] {
				return false
			}
		}
		for _, k := range tx.metaKs {
			if f.meta[k] {
				return false
			}
		}
		f.joined += rows
	}
	for _, tt := range tx.order {
		f.tables[tt.t] = f.tables[tt.t] || !sharesAppend(tt)
	}
	for t := range tx.watermarks {
		if _, ok := f.tables[t]; !ok {
			f.tables[t] = false
		}
	}
	for _, k := range tx.metaKs {
		f.meta[k] = true
	}
	return true
}

// rows returns how many rows the txn inserts and deletes.
func (tx *Txn) rows() int {
	n := 0
	for _, tt := range tx.order {
		n += tt.ins.n + len(tt.delOrder)
	}
	return n
}

// sharesAppend reports whether tt's writes can share a group with other
// appends to its table: they are appends to a stream whose history log
// exists (the commit creating the log owns it until it is committed).
func sharesAppend(tt *txnTable) bool {
	return tt.t.info.AppendOnly && tt.t.hist != nil && len(tt.delOrder) == 0
}

// commitGroup commits a group: prepares its commits in order, makes the
// prepared ones durable together and publishes them in order; each
// commit's err says how it ended. Caller holds db.commitMu.
func (db *DB) commitGroup(group []*queuedCommit) {
	start := time.Now()
	defer func() {
		hold := time.Since(start)
		for _, c := range group {
			c.tx.timing = CommitTiming{Wait: start.Sub(c.queued), Hold: hold}
		}
	}()
	if db.closed {
		for _, c := range group {
			c.err = sqlerr.New(sqlerr.AdminShutdown, "storage: database is closed")
		}
		return
	}
	tails := map[*Table]historyTail{}
	raised := map[*Table]int64{}
	var prepared []*queuedCommit
	for _, c := range group {
		if c.err = c.prepare(tails, raised); c.err == nil {
			prepared = append(prepared, c)
		}
	}
	if len(prepared) == 0 {
		return
	}
	defer func() {
		for _, c := range prepared {
			c.b.Close()
		}
	}()
	if err := db.makeDurable(prepared); err != nil {
		for _, c := range prepared {
			c.err = err
			db.abandonHistory(c.appends)
		}
		return
	}
	for _, c := range prepared {
		committedHistory(c.appends)
		c.publish()
	}
}

// makeDurable syncs each history log the prepared commits appended to,
// once, and then commits their batches as one, synced: the history
// lengths the batch records are durable before it.
func (db *DB) makeDurable(prepared []*queuedCommit) error {
	var logs []*historyLog
	for _, c := range prepared {
		for _, a := range c.appends {
			if a.wrote && !slices.Contains(logs, a.log) {
				logs = append(logs, a.log)
			}
		}
	}
	if err := syncLogs(logs); err != nil {
		return err
	}
	if db.afterHistorySync != nil {
		db.afterHistorySync()
	}
	b := prepared[0].b
	for _, c := range prepared[1:] {
		if err := b.Apply(c.b, nil); err != nil {
			return wrapPebble(err)
		}
	}
	return wrapPebble(b.Commit(pebble.Sync))
}

// syncLogs syncs logs, at once: a group's small appends do not wait for a
// big one's sync to end before their own starts.
func syncLogs(logs []*historyLog) error {
	if len(logs) == 0 {
		return nil
	}
	errs := make([]error, len(logs))
	var wg sync.WaitGroup
	for i, log := range logs[1:] {
		wg.Go(func() { errs[i+1] = log.sync() })
	}
	errs[0] = logs[0].sync()
	wg.Wait()
	return errors.Join(errs...)
}
