package bench

import (
	"context"
	"net"
	"testing"
	"time"
)

// The stub answers appends like the daemon (so the generator counts them)
// and the probe measures something.
func TestStubAndFsyncProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = ServeStub(ln) }()
	for _, batch := range []int{1, 10} {
		cfg := testConfig("http://" + ln.Addr().String())
		cfg.Concurrency, cfg.Batch, cfg.Events, cfg.Duration = 2, batch, 200, 0
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := rep.Phases[0]; p.Errors != 0 || p.Events < 200 {
			t.Fatalf("batch %d against the stub: %+v", batch, p)
		}
	}
	phases, err := FsyncProbe(t.TempDir(), 200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(phases) != 2 || phases[0].Name != "fsync-append" || phases[1].Name != "fsync-overwrite" || phases[0].Events == 0 || phases[1].Events == 0 {
		t.Fatalf("probe %+v", phases)
	}
}
