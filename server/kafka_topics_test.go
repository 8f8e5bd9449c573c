package server

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Records a client had acknowledged in a topic the embedded broker created
// on the fly are in its data directory as a crash would leave it: the
// directory is copied while the broker runs, and a broker started on the
// copy serves them.
func TestEmbeddedKafkaKeepsAutoCreatedTopics(t *testing.T) {
	dir := t.TempDir()
	k, err := startEmbeddedKafka("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 500
	for _, topic := range []string{"auto-a", "auto-b"} {
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}

	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(filepath.Join(dir, "kafka"))); err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(crashed))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("auto-a", "auto-b"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := map[string]int{}
	for got["auto-a"]+got["auto-b"] < 2*n && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[r.Topic]++ })
	}
	if got["auto-a"] != n || got["auto-b"] != n {
		t.Fatalf("after the crash the topics hold %v records, want %d each", got, n)
	}
}
