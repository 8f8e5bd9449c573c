package format

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBenchmarkLosersNotLinked: the JSON libraries BenchmarkJSONDecoders
// compares against are test-only; neither this package nor the binary
// links them.
func TestBenchmarkLosersNotLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{"github.com/sluice-db/sluice/connector/format", "github.com/sluice-db/sluice/cmd/sluice"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, loser := range []string{"valyala/fastjson", "goccy/go-json", "bytedance/sonic", "minio/simdjson-go"} {
				if strings.Contains(dep, loser) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
}
