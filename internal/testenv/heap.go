package testenv

import (
	"runtime"
	"sync"
	"time"
)

// SampleHeap samples the Go heap in use every period until the returned function is called, which
// returns the largest figure seen, in bytes. Benchmarks use it to report peak memory.
func SampleHeap(period time.Duration) (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(period):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}
