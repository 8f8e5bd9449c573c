package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A batch is a JSON array of rows with their idempotency keys, posted with
// the batch's key until the endpoint takes it.
func TestPost(t *testing.T) {
	var mu sync.Mutex
	var got []string
	fails := 2
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Header.Get(IdempotencyHeader)+" "+string(b))
	}))
	defer hs.Close()
	opts, err := ParseOptions(map[string]string{"url": hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	changes := coldata.NewChunk([]*types.T{types.Text, types.Int8}, 0)
	changes.AppendRow([]types.Datum{"paris", int64(2)})
	changes.AppendRow([]types.Datum{"rome", nil})
	changes.Diffs = []int64{1, -1}
	s := NewSink(opts, []string{"city", "n"}, []int{0}, types.DefaultConfig())
	if err := s.Post(context.Background(), "sink-7-3", changes); err != nil {
		t.Fatal(err)
	}
	want := `sink-7-3 [{"idempotency_key":"sink-7-3-0","key":{"city":"paris"},"diff":1,"row":{"city":"paris","n":2}},` +
		`{"idempotency_key":"sink-7-3-1","key":{"city":"rome"},"diff":-1,"row":{"city":"rome","n":null}}]`
	if len(got) != 1 || got[0] != want {
		t.Errorf("posted %q\nwant %q", got, want)
	}
	for _, u := range []string{"", "ftp://x", "http://"} {
		if _, err := ParseOptions(map[string]string{"url": u}); err == nil {
			t.Errorf("url %q accepted", u)
		}
	}
}

func TestRedacted(t *testing.T) {
	for raw, want := range map[string]string{
		"https://admin:hunter2@hooks.example.com/in?token=abc": "https://xxxxx@hooks.example.com/in?xxxxx",
		"http://127.0.0.1:8080/hook":                           "http://127.0.0.1:8080/hook",
		"http://[::1]:namedport":                               "(an unparsable URL)",
	} {
		if got := Redacted(raw); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", raw, got, want)
		}
	}
}
