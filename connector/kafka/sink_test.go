package kafka

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readCommitted returns the values in topic a read_committed consumer sees,
// sorted.
func readCommitted(t *testing.T, brokers []string, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out []string
	for len(out) < want+1 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	slices.Sort(out)
	return out
}

// A transaction's outcome is read back from the progress topic: committed,
// abandoned before EndTxn, and committed by an EndTxn whose answer was lost.
func TestTxnProducerResolve(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	opts, err := ParseSinkOptions(map[string]string{"topic": "out"}, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewTxnProducer(ctx, opts, "sluice-sink-test", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rec := func(v string) []*kgo.Record { return []*kgo.Record{{Topic: "out", Value: []byte(v)}} }

	m, err := p.Send(ctx, rec("a"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Resolve(ctx, m); err != nil || !ok {
		t.Fatalf("committed transaction resolved as %v, %v", ok, err)
	}

	m, err = p.Send(ctx, rec("b"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Resolve(ctx, m); err != nil || ok {
		t.Fatalf("transaction without EndTxn resolved as %v, %v", ok, err)
	}

	// EndTxn is held past the producer's timeout; the broker commits it
	// only when the restarted producer's InitProducerID arrives, which
	// waits until then: the commit happened, unknown to the producer.
	initArrived := make(chan struct{})
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.DropControl()
		c.SleepControl(func() { <-initArrived })
		return nil, nil, false
	})
	m, err = p.Send(ctx, rec("c"), 3)
	if err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.DropControl()
		close(initArrived)
		c.SleepControl(func() { time.Sleep(100 * time.Millisecond) })
		return nil, nil, false
	})
	if err := p.Commit(ctx); err == nil {
		t.Fatal("EndTxn held past the timeout, Commit reported success")
	}
	if ok, err := p.Resolve(ctx, m); err != nil || !ok {
		t.Fatalf("transaction committed after its EndTxn timed out resolved as %v, %v", ok, err)
	}
	if got := readCommitted(t, c.ListenAddrs(), "out", 2); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("read_committed output %q, want [a c]", got)
	}
}
