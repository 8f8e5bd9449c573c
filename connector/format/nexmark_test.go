package format

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Nexmark bids, the events the format benchmarks decode (see
// shared/NEXMARK.md): about 200 bytes as JSON.

type bid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime string `json:"date_time"`
	Extra    string `json:"extra"`
}

var bidColumns = []Column{
	{Name: "auction", Type: types.Int8},
	{Name: "bidder", Type: types.Int8},
	{Name: "price", Type: types.Int8},
	{Name: "channel", Type: types.Text},
	{Name: "url", Type: types.Text},
	{Name: "date_time", Type: types.TimestampTZ},
	{Name: "extra", Type: types.Text},
}

// rusageThread is Linux's RUSAGE_THREAD.
const rusageThread = 1

var bidBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// genBids makes n bids from seed, as the Nexmark generator would.
func genBids(n int, seed uint64) []bid {
	r := rand.New(rand.NewPCG(seed, 7))
	channels := []string{"Google", "Facebook", "Baidu", "Apple"}
	out := make([]bid, n)
	for i := range out {
		ch := channels[r.IntN(4)]
		if r.IntN(2) == 0 {
			ch = fmt.Sprintf("channel-%d", r.IntN(10000))
		}
		at := bidBase.Add(time.Duration(i) * 97 * time.Microsecond * 1000)
		extra := strings.Repeat(string(rune('a'+r.IntN(26))), 40+r.IntN(20))
		out[i] = bid{
			Auction:  1000 + int64(r.IntN(1000)),
			Bidder:   1000 + int64(r.IntN(5000)),
			Price:    int64(math.Round(math.Pow(10, r.Float64()*6) * 100)),
			Channel:  ch,
			URL:      fmt.Sprintf("https://www.nexmark.com/%s/item.htm?query=1", strings.Repeat("x", 5+r.IntN(10))),
			DateTime: at.Format("2006-01-02T15:04:05.000Z07:00"),
			Extra:    extra,
		}
	}
	return out
}

func bidsJSON(bids []bid) [][]byte {
	out := make([][]byte, len(bids))
	for i, b := range bids {
		out[i], _ = json.Marshal(b)
	}
	return out
}

func bidsCSV(bids []bid) [][]byte {
	out := make([][]byte, len(bids))
	for i, b := range bids {
		out[i] = fmt.Appendf(nil, "%d,%d,%d,%s,%s,%s,%s", b.Auction, b.Bidder, b.Price, b.Channel, b.URL, b.DateTime, b.Extra)
	}
	return out
}

func newCols(cs []Column, n int) []*coldata.Vec {
	out := make([]*coldata.Vec, len(cs))
	for i, c := range cs {
		out[i] = coldata.NewVec(c.Type, n)
	}
	return out
}

func resetCols(cols []*coldata.Vec) {
	for _, v := range cols {
		v.Reset()
	}
}

func avgLen(recs [][]byte) float64 {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	return float64(n) / float64(len(recs))
}

// benchDecode decodes recs round and round into chunks of 1024 rows and
// reports records per second.
func benchDecode(b *testing.B, dec Decoder, cs []Column, recs [][]byte) {
	b.Helper()
	cols := newCols(cs, 1024)
	b.SetBytes(int64(avgLen(recs)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if i%1024 == 0 {
			resetCols(cols)
		}
		if err := dec.Decode(recs[i%len(recs)], cols); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report()
}

// cpuClock measures the CPU time of the benchmark's own thread, which the
// other work on a shared machine does not inflate as it does wall time.
type cpuClock struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuClock {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	b.ResetTimer()
	return cpuClock{b: b, start: threadCPU()}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds rec/s (wall clock) and rec/cpu-s (the thread's CPU time: the
// rate one core sustains).
func (c cpuClock) report() {
	b := c.b
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
	if d := threadCPU() - c.start; d > 0 && c.start > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "rec/cpu-s")
	}
}

func TestBidsAreNexmarkSized(t *testing.T) {
	recs := bidsJSON(genBids(1000, 1))
	if n := avgLen(recs); n < 170 || n > 230 {
		t.Fatalf("bid JSON averages %.0f bytes, want about 200", n)
	}
	t.Logf("%s", recs[0])
}
