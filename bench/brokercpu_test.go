package bench

import (
	"context"
	"runtime/pprof"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// spin does n steps of work on the calling goroutine: the same n takes
// the same CPU time wherever it runs, however loaded the machine.
func spin(n int) uint64 {
	x := uint64(1)
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// TestCPUMeterSplitsByLabel: CPU time spent under the broker label is the
// broker's, the rest is not; with equal work each side gets about half.
func TestCPUMeterSplitsByLabel(t *testing.T) {
	m, err := startCPUMeter()
	if err != nil {
		t.Fatal(err)
	}
	var sink uint64
	pprof.Do(context.Background(), pprof.Labels(roleLabel, brokerRole), func(context.Context) { sink += spin(100_000_000) })
	sink += spin(100_000_000)
	cpu, err := m.stop("")
	if err != nil {
		t.Fatal(err)
	}
	if cpu.total <= 0 || cpu.broker <= 0 || cpu.broker >= cpu.total {
		t.Fatalf("CPU %v, broker %v (%d): want 0 < broker < total", cpu.total, cpu.broker, sink)
	}
	if share := float64(cpu.broker) / float64(cpu.total); share < 0.25 || share > 0.75 {
		t.Errorf("broker share %.2f of %v: want about half", share, cpu.total)
	}
	if again, err := m.stop(""); err != nil || again != (runCPU{}) {
		t.Errorf("a second stop returned %v, %v: want nothing", again, err)
	}
}

// TestBrokerGoroutinesLabeled: a broker started by newBroker is seen
// apart from its clients' goroutines when records are produced to it and
// read back.
func TestBrokerGoroutinesLabeled(t *testing.T) {
	c, err := newBroker(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Uncompressed, so that the broker moves every byte (zeros compressed
	// to next to nothing left it too little work to be sampled).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	m, err := startCPUMeter()
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 200)
	for range 200 {
		recs := make([]*kgo.Record, 2000)
		for i := range recs {
			recs[i] = &kgo.Record{Value: value}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			_, _ = m.stop("")
			t.Fatal(err)
		}
	}
	// Fetches are most of a broker's work (it copies each batch into a
	// fresh response).
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		_, _ = m.stop("")
		t.Fatal(err)
	}
	defer consumer.Close()
	for read := 0; read < 200*2000; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			_, _ = m.stop("")
			t.Fatal(err)
		}
		read += fs.NumRecords()
	}
	cpu, err := m.stop("")
	if err != nil {
		t.Fatal(err)
	}
	if cpu.broker <= 0 || cpu.broker >= cpu.total {
		t.Errorf("CPU %v, broker %v: want 0 < broker < total", cpu.total, cpu.broker)
	}
}
