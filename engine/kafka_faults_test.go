package engine_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker that fails fetches with retriable errors, closes the fetch
// connection and answers late slows ingestion down
// but changes nothing: every bid is in the stream once and the view equals
// its query over the bids produced.
func TestKafkaBrokerFaults(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// every(n) matches one in n of the fetches it is asked about.
	every := func(n int64) func(kmsg.Request) bool {
		var seen atomic.Int64
		return func(kmsg.Request) bool { return seen.Add(1)%n == 0 }
	}
	notLeader := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "bids", Err: kerr.NotLeaderForPartition,
		Count: -1, When: every(10)})
	timedOut := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "bids", Err: kerr.RequestTimedOut,
		Count: -1, When: every(17)})
	var fetches, closed, delayed atomic.Int64
	var calm atomic.Bool
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		if calm.Load() {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		switch n := fetches.Add(1); {
		case n%8 == 0:
			closed.Add(1)
			return nil, errors.New("fault: fetch connection closed"), true
		case n%5 == 0:
			delayed.Add(1)
			c.SleepControl(func() { time.Sleep(time.Duration(50*(n%6)) * time.Millisecond) })
		}
		return nil, nil, false
	})

	srv := startKafkaServer(t, "", c.ListenAddrs())
	conn := connect(t, srv)
	mustExec(t, conn, bidsStream)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n, sum(bidder) AS total FROM bids GROUP BY auction")
	cl := producer(t, c.ListenAddrs()...)
	const total = 30000
	for lo := 0; lo < total; lo += 500 {
		produceValues(t, cl, "bids", bids(lo, lo+500))
		time.Sleep(40 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for queryInt(t, conn, "SELECT count(*) FROM bids") < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Let the faults go on a little past the end, then stop them and
	// check nothing more arrives.
	time.Sleep(300 * time.Millisecond)
	notLeader.Remove()
	timedOut.Remove()
	calm.Store(true)
	t.Logf("faults in %d fetches: %d not leader, %d timed out, %d connections closed, %d delayed",
		fetches.Load(), notLeader.Hits(), timedOut.Hits(), closed.Load(), delayed.Load())
	if notLeader.Hits() == 0 || timedOut.Hits() == 0 || closed.Load() == 0 || delayed.Load() == 0 {
		t.Fatal("a kind of fault never happened; the test did not test it")
	}
	eventually(t, conn, "SELECT sum(n) FROM per_auction", total)
	expectInts(t, conn, map[string]int64{
		"SELECT count(*) FROM bids":                       total,
		"SELECT count(DISTINCT bidder) FROM bids":         total,
		"SELECT count(*) FROM sluice_dead_letters":        0,
		"SELECT max(bidder) FROM bids":                    total - 1,
		"SELECT count(*) FROM per_auction":                10,
		"SELECT total FROM per_auction WHERE auction = 3": sumBidders(total, 3),
		"SELECT sum(total) FROM per_auction":              int64(total) * (total - 1) / 2,
		"SELECT min(n) FROM per_auction":                  total / 10,
		"SELECT max(n) FROM per_auction":                  total / 10,
	})
}

// sumBidders is the sum of bidder over the test bids below total of auction a
// (bid i has auction i%10 and bidder i).
func sumBidders(total, a int) int64 {
	var s int64
	for i := a; i < total; i += 10 {
		s += int64(i)
	}
	return s
}
