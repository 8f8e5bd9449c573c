package engine

import (
	"context"
	"sync"
	"testing"
)

// TestAdvisoryLocksExclude: sessions taking one exclusive lock run their
// critical sections one at a time (run with -race).
func TestAdvisoryLocksExclude(t *testing.T) {
	locks := newAdvisoryLocks()
	k := bigintKey(7)
	inside, total := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		s := &session{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if err := locks.lock(context.Background(), s, k, exclusiveLock, sessionScope); err != nil {
					t.Error(err)
					return
				}
				inside++
				if inside != 1 {
					t.Errorf("%d sessions hold the lock", inside)
				}
				total++
				inside--
				if !locks.unlock(s, k, exclusiveLock) {
					t.Error("unlock of a held lock failed")
				}
			}
		}()
	}
	wg.Wait()
	if total != 8*200 || len(locks.locks) != 0 {
		t.Fatalf("total %d, %d locks left", total, len(locks.locks))
	}
}
