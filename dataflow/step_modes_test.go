package dataflow

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/sluice-db/sluice/expr"
)

var stepsFlag = flag.String("steps", "both", "who runs the tests' epochs: workers (their goroutines), inline (Step's caller), or both, the tests run once each way")

// stepMode is the option newDataflow adds: the run of the tests in
// progress (TestMain) forces the workers or the caller to run every epoch.
var stepMode Option

func TestMain(m *testing.M) {
	flag.Parse()
	modes := map[string][]string{"both": {"workers", "inline"}, "workers": {"workers"}, "inline": {"inline"}}[*stepsFlag]
	if modes == nil {
		fmt.Fprintf(os.Stderr, "-steps %q: want workers, inline or both\n", *stepsFlag)
		os.Exit(2)
	}
	for _, mode := range modes {
		stepMode = InlineSteps(-1, 0)
		if mode == "inline" {
			stepMode = InlineAlways()
		}
		fmt.Printf("dataflow tests, epochs run by: %s\n", mode)
		if code := m.Run(); code != 0 {
			os.Exit(code)
		}
	}
	os.Exit(0)
}

// newDataflow is New with the epochs run as the tests' run forces.
func newDataflow(g *Graph, eval *expr.EvalCtx, opts ...Option) (*Dataflow, error) {
	return New(g, eval, append(opts[:len(opts):len(opts)], stepMode)...)
}
