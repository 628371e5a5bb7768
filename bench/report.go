package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run: one PhaseResult per phase ("append"; or
// "seed", "read-stream", "read-all", "replay", "sse-all", "sse-stream" with
// --read; the phases of the other modes are listed in doc.go). In the SSE
// phases a request is one subscription that caught up with the head, and
// its latency is the whole catch-up; likewise in the catchup-* phases of
// --mode projection.
type Report struct {
	RunID      string        `json:"runId"`
	URL        string        `json:"url"`
	StartedAt  time.Time     `json:"startedAt"`
	GoMaxProcs int           `json:"gomaxprocs"`
	NumCPU     int           `json:"numCPU"`
	LoadAvg    string        `json:"loadAvg,omitempty"` // /proc/loadavg at the end
	Server     string        `json:"server,omitempty"`  // how the daemon was started, when bench started it
	Config     Config        `json:"config"`
	Phases     []PhaseResult `json:"phases"`

	EventType string `json:"eventType,omitempty"` // type of the events the generator appends
	// CommandsPerAppend is --mode commands' ratio: commands/s of the
	// "commands" phase ÷ events/s of the "append" phase that follows it.
	CommandsPerAppend float64 `json:"commandsPerAppend,omitempty"`
}

// PhaseResult holds one phase's totals, rates and latency percentiles
// (of successful requests).
type PhaseResult struct {
	Name           string           `json:"name"`
	ElapsedSec     float64          `json:"elapsedSec"`
	Events         int64            `json:"events"`
	Requests       int64            `json:"requests"` // all requests sent, failed ones included
	Errors         int64            `json:"errors"`
	ErrorsByKind   map[string]int64 `json:"errorsByKind,omitempty"` // HTTP status or "transport"
	EventsPerSec   float64          `json:"eventsPerSec"`
	RequestsPerSec float64          `json:"requestsPerSec"`
	LatencyMs      Latency          `json:"latencyMs"`
	GeneratorCPU   float64          `json:"generatorCPU,omitempty"` // cores used by this process

	// Projection phases: the projection, how far it had processed at the
	// end, and the head position it had to reach.
	ProjectionID          string `json:"projectionId,omitempty"`
	LastProcessedPosition uint64 `json:"lastProcessedPosition,omitempty"`
	HeadPosition          uint64 `json:"headPosition,omitempty"`
	// SubLatencyMs are the parts of a compound latency (ryw: "write" and
	// "query"; lag: "query-rtt", an answer that need not wait).
	SubLatencyMs map[string]Latency `json:"subLatencyMs,omitempty"`
	Note         string             `json:"note,omitempty"` // what the phase measured, in words

	hist *Histogram
}

// Latency percentiles in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (p *PhaseResult) finish(elapsed, cpu time.Duration) {
	p.ElapsedSec = elapsed.Seconds()
	if s := elapsed.Seconds(); s > 0 {
		p.EventsPerSec = float64(p.Events) / s
		p.RequestsPerSec = float64(p.Requests) / s
		if cpu > 0 {
			p.GeneratorCPU = cpu.Seconds() / s
		}
	}
	p.LatencyMs = latencyOf(p.hist)
	if len(p.ErrorsByKind) == 0 {
		p.ErrorsByKind = nil
	}
}

func latencyOf(h *Histogram) Latency {
	return Latency{
		Mean: ms(h.Mean()),
		P50:  ms(h.Quantile(0.50)),
		P90:  ms(h.Quantile(0.90)),
		P99:  ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)),
		Max:  ms(h.Max()),
	}
}

// addSub records a sub-latency.
func (p *PhaseResult) addSub(name string, h *Histogram) {
	if p.SubLatencyMs == nil {
		p.SubLatencyMs = map[string]Latency{}
	}
	p.SubLatencyMs[name] = latencyOf(h)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a plain-text table.
func (r *Report) WriteTable(w io.Writer) error {
	c := r.Config
	var mode string
	switch {
	case c.Read || c.Mode == ModeRead:
		mode = fmt.Sprintf("read limit=%d seed=%d", c.Limit, c.Seed)
	case c.Mode == ModeCommands:
		mode = "commands (then appends)"
	case c.Mode == ModeProjection:
		mode = fmt.Sprintf("projection seed=%d state=%v lag-interval=%s", c.Seed, c.ProjectionState, c.LagInterval)
	case c.Mode == ModeRYW:
		mode = "ryw write=append"
		if c.RYWCommand {
			mode = "ryw write=command"
		}
	case c.Mode == ModeQuery:
		mode = fmt.Sprintf("query keys=%d where-items=%d where-concurrency=%d", c.Keys, c.WhereItems, c.WhereConcurrency)
	case c.Mode == ModeFsync:
		mode = fmt.Sprintf("fsync probe-dir=%s (one writer)", c.ProbeDir)
	default:
		mode = fmt.Sprintf("append batch=%d", c.Batch)
		switch {
		case c.Schema:
			mode += " schema=10-fields"
		case c.SchemaFields:
			mode += " schema=none data=10-fields"
		}
	}
	if r.EventType != "" && r.EventType != benchEventType {
		mode += " type=" + r.EventType
	}
	fmt.Fprintf(w, "eventd bench  run=%s  url=%s  %s  concurrency=%d  size=%d  streams/worker=%d  client=%s\n",
		r.RunID, r.URL, mode, c.Concurrency, c.Size, c.Streams, c.Client)
	if r.Server != "" {
		fmt.Fprintf(w, "server: %s\n", r.Server)
	}
	fmt.Fprintf(w, "cpus=%d gomaxprocs=%d loadavg=%s\n\n", r.NumCPU, r.GoMaxProcs, r.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tevents\trequests\telapsed\tevents/s\treq/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\tgen cpu\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2fs\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.2f\t\n",
			p.Name, p.Events, p.Requests, p.ElapsedSec, p.EventsPerSec, p.RequestsPerSec,
			p.LatencyMs.P50, p.LatencyMs.P90, p.LatencyMs.P99, p.LatencyMs.P999, p.LatencyMs.Max,
			p.Errors, p.GeneratorCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Errors == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(p.ErrorsByKind)) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, p.ErrorsByKind[k]))
		}
		fmt.Fprintf(w, "%s errors: %s\n", p.Name, strings.Join(parts, " "))
	}
	for _, p := range r.Phases {
		for _, k := range slices.Sorted(maps.Keys(p.SubLatencyMs)) {
			l := p.SubLatencyMs[k]
			fmt.Fprintf(w, "%s: %s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", p.Name, k, l.P50, l.P90, l.P99, l.Max)
		}
		if p.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", p.Name, p.Note)
		}
	}
	if r.CommandsPerAppend > 0 {
		fmt.Fprintf(w, "commands/s ÷ appends/s = %.3f\n", r.CommandsPerAppend)
	}
	return nil
}

// loadAvg returns the first three fields of /proc/loadavg, or "".
// LoadAvg is /proc/loadavg (empty where there is none).
func LoadAvg() string { return loadAvg() }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
