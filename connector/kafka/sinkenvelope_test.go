package kafka

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestSinkEnvelopes runs testdata/sink/envelopes: `encode envelope=… [key=col,…]`
// takes rows of (city text, n bigint, total numeric, tags jsonb), each line
// `diff city n total tags` (NULL for NULL), and prints the records.
func TestSinkEnvelopes(t *testing.T) {
	names := []string{"city", "n", "total", "tags"}
	typs := []*types.T{types.Text, types.Int8, types.Numeric, types.JSONB}
	datadriven.RunTest(t, "testdata/sink/envelopes", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "encode" {
			t.Fatalf("unknown command %s", d.Cmd)
		}
		var envName, keySpec string
		d.ScanArgs(t, "envelope", &envName)
		if d.HasArg("key") {
			d.ScanArgs(t, "key", &keySpec)
		}
		env, ok := Envelopes[envName]
		if !ok {
			t.Fatalf("unknown envelope %s", envName)
		}
		var key []int
		for _, k := range strings.Split(keySpec, ",") {
			for i, n := range names {
				if n == k {
					key = append(key, i)
				}
			}
		}
		changes := coldata.NewChunk(typs, 0)
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			f := strings.Fields(line)
			diff, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			row := make([]types.Datum, len(typs))
			for i, s := range f[1:] {
				if s == "NULL" {
					continue
				}
				if row[i], err = types.ParseText(typs[i], s, types.DefaultConfig()); err != nil {
					t.Fatal(err)
				}
			}
			changes.AppendRow(row)
			changes.Diffs = append(changes.Diffs, diff)
		}
		var b strings.Builder
		for _, r := range NewSinkEncoder("out", env, names, key, types.DefaultConfig()).Records(changes) {
			fmt.Fprintf(&b, "%s key=%s value=%s\n", r.Topic, orNull(r.Key), orNull(r.Value))
		}
		return b.String()
	})
}

func orNull(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}
