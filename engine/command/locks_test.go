package command

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestAggregateLocksFIFO(t *testing.T) {
	l := newAggregateLocks()
	first := l.enqueue("a")
	if err := first.wait(ctx); err != nil {
		t.Fatal(err)
	}
	other := l.enqueue("b") // another aggregate: never waits
	if err := other.wait(ctx); err != nil {
		t.Fatal(err)
	}
	other.release()

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		tk := l.enqueue("a") // places taken in this order…
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tk.wait(ctx); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			tk.release()
		}()
	}
	time.Sleep(10 * time.Millisecond) // let them all block, in whatever order
	first.release()
	wg.Wait()
	for i, v := range order { // …are served in this order
		if v != i {
			t.Fatalf("served %v, want 0..4 in order", order)
		}
	}
	if l.size() != 0 {
		t.Fatalf("%d locks left", l.size())
	}
}

func TestAggregateLockWaitCancelled(t *testing.T) {
	l := newAggregateLocks()
	held := l.enqueue("a")
	_ = held.wait(ctx)
	c, cancel := context.WithCancel(ctx)
	gone := l.enqueue("a")
	next := l.enqueue("a")
	cancel()
	if err := gone.wait(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v", err)
	}
	held.release() // skips the cancelled place
	done := make(chan error, 1)
	go func() { done <- next.wait(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the place after a cancelled one never got its turn")
	}
	next.release()
	if l.size() != 0 {
		t.Fatalf("%d locks left", l.size())
	}
}

// TestSubmitCancelledWhileWaiting: a sync command whose caller gives up
// while the aggregate is busy is not recorded; sent again, it runs.
func TestSubmitCancelledWhileWaiting(t *testing.T) {
	e := newEnv(t)
	release := e.hold("u1")
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := e.svc.Submit(c, createUser("u1", "w1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if e.svc.Total() != 0 || e.st.Head() != 0 {
		t.Fatal("a command given up while waiting was recorded")
	}
	release()
	completed(t, e.submit(createUser("u1", "w1")))
}
