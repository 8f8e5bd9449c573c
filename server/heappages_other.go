//go:build !linux

package server

import "log/slog"

// heapAdvisor does nothing where huge pages are not advised this way.
type heapAdvisor struct{}

func newHeapAdvisor(*slog.Logger) *heapAdvisor { return nil }

func startHeapAdvisor(*heapAdvisor) (stop func()) { return func() {} }
