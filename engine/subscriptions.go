package engine

import (
	"context"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/sqlerr"
)

// subscriptionBuffer is how many epochs a subscriber may fall behind before
// its subscription is ended (rather than holding the views back).
const subscriptionBuffer = 4096

// subscription receives a view's changes epoch by epoch.
type subscription struct {
	d    *dataflows
	view uint32
	// events carries the snapshot (if asked) and then each epoch's changes;
	// it is closed when the subscription ends, and err says why.
	events chan subscriptionEvent
	err    error
	closed bool // loop-owned
}

// subscriptionEvent is one epoch's changes to the subscribed view.
type subscriptionEvent struct {
	epoch uint64
	rows  *coldata.Chunk // with Diffs
}

// subscribe registers for view id's changes. With snapshot, the first event
// holds the view's rows at the current epoch (all diffs +1).
func (d *dataflows) subscribe(ctx context.Context, id uint32, snapshot bool) (*subscription, error) {
	sub := &subscription{d: d, view: id, events: make(chan subscriptionEvent, subscriptionBuffer)}
	var err error
	if cerr := d.call(ctx, func() {
		v := d.running[id]
		if v == nil {
			err = sqlerr.Bug("subscribe: view %d is not running", id)
			return
		}
		if v.failed != nil {
			err = errViewFailed(v.name, v.failed)
			return
		}
		if snapshot {
			out := dataflow.NewChanges(v.arr.Types(), 0)
			next := v.arr.Snapshot(d.epoch).Scan()
			for c := next(); c != nil; c = next() {
				out.AppendChunk(withDiffs(c, 1))
			}
			sub.events <- subscriptionEvent{epoch: d.epoch, rows: out}
		}
		d.subs[id] = append(d.subs[id], sub)
	}); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// close ends the subscription from the subscriber's side.
func (s *subscription) close() {
	_ = s.d.call(context.Background(), func() { s.d.endSubscription(s, nil) })
}

func (d *dataflows) notify(id uint32, epoch uint64, out []*coldata.Chunk) {
	subs := d.subs[id]
	if len(subs) == 0 {
		return
	}
	rows := dataflow.Concat(d.running[id].arr.Types(), out)
	for _, s := range subs {
		select {
		case s.events <- subscriptionEvent{epoch: epoch, rows: rows}:
		default:
			d.endSubscription(s, sqlerr.New(sqlerr.ProgramLimitExceeded, "subscription ended: the subscriber fell more than %d epochs behind", subscriptionBuffer))
		}
	}
}

// endSubscription removes s (on the loop) and closes its channel.
func (d *dataflows) endSubscription(s *subscription, err error) {
	if s.closed {
		return
	}
	s.closed, s.err = true, err
	list := d.subs[s.view]
	for i, x := range list {
		if x == s {
			d.subs[s.view] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(d.subs[s.view]) == 0 {
		delete(d.subs, s.view)
	}
	close(s.events)
}

func (d *dataflows) endSubscriptions(id uint32, err error) {
	for _, s := range append([]*subscription(nil), d.subs[id]...) {
		d.endSubscription(s, err)
	}
}
