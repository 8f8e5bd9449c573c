package cpuprofile

import (
	"os"
	"runtime/pprof"
)

// Start profiles this process's CPU into path and returns the function
// that stops the profile and closes the file. An empty path profiles
// nothing.
func Start(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
