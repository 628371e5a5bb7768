package projection

import (
	"os"
	"testing"

	"github.com/eventd/eventd/engine/reducer"
)

// TestMain lets the test binary double as the crash test's child process,
// and removes the benchmarks' log.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	code := m.Run()
	closeBenchStore()
	os.Exit(code)
}

// newRegistry is a registry with the test reducers.
func newRegistry() *reducer.Registry {
	reg := reducer.NewRegistry()
	reg.Register(counter{}, "")
	reg.Register(picky{}, "picky")
	return reg
}
