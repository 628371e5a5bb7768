package bench

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config is one load-generator run.
type Config struct {
	URL         string        `json:"url"`                  // base URL of the daemon, http://127.0.0.1:PORT
	Concurrency int           `json:"concurrency"`          // workers, one connection each
	Batch       int           `json:"batch"`                // events per append request (1: POST /api/events)
	Duration    time.Duration `json:"durationNs,omitempty"` // run length of each timed phase; 0 with Events > 0
	Events      int64         `json:"events,omitempty"`     // end each timed phase after this many events
	Size        int           `json:"size"`                 // bytes of eventData per event
	Streams     int           `json:"streams"`              // streams per worker, round-robined
	Mode        string        `json:"mode"`                 // append, read, commands, projection, ryw or query (see doc.go)
	Read        bool          `json:"read"`                 // Mode is "read" (--read is an alias of --mode read)
	Seed        int64         `json:"seed"`                 // read, projection: events appended before measuring (0: use what is there)
	Limit       int           `json:"limit"`                // --read: page size of stream and $all reads
	Client      string        `json:"client"`               // "raw" (keep-alive HTTP/1.1 over net.Conn) or "std" (net/http)
	MaxDuration time.Duration `json:"maxDurationNs"`        // hard bound on a phase when it is bounded by Events

	Schema           bool          `json:"schema,omitempty"`           // append: register a 10-field JSON Schema for the event type first (implies SchemaFields)
	SchemaFields     bool          `json:"schemaFields,omitempty"`     // append: send the 10-field eventData (without a schema unless Schema)
	ProjectionState  bool          `json:"projectionState,omitempty"`  // projection: also a state projection (catch-up and lag)
	LagInterval      time.Duration `json:"lagIntervalNs,omitempty"`    // projection: pause between two lag samples
	RYWCommand       bool          `json:"rywCommand,omitempty"`       // ryw: write with a CreateUser command instead of an append
	Keys             int           `json:"keys,omitempty"`             // query: keys of the read model of the key lookups
	WhereItems       int           `json:"whereItems,omitempty"`       // query: items of the read model of the where queries (0: no where phase)
	ProbeDir         string        `json:"probeDir,omitempty"`         // fsync: the directory whose disk is probed
	WhereConcurrency int           `json:"whereConcurrency,omitempty"` // query: workers of the where phase

	JSON  bool   `json:"-"` // print the report as JSON instead of a table
	Quiet bool   `json:"-"` // no progress line
	RunID string `json:"-"` // part of every stream id; random when empty
}

// Defaults.
const (
	DefaultConcurrency = 32
	DefaultBatch       = 1
	DefaultDuration    = 10 * time.Second
	DefaultSize        = 200
	DefaultStreams     = 1
	DefaultSeed        = 100_000
	DefaultLimit       = 1000
	DefaultMaxDuration = 10 * time.Minute
	DefaultLagInterval = 5 * time.Millisecond
	DefaultKeys        = 10_000
	DefaultWhereItems  = 100_000
)

// The modes.
const (
	ModeAppend     = "append"
	ModeRead       = "read"
	ModeCommands   = "commands"
	ModeProjection = "projection"
	ModeRYW        = "ryw"
	ModeQuery      = "query"
	ModeFsync      = "fsync"
)

var modes = []string{ModeAppend, ModeRead, ModeCommands, ModeProjection, ModeRYW, ModeQuery, ModeFsync}

// Bounds checked by Validate.
const (
	maxConcurrency = 4096
	maxBatch       = 10_000 // the API's limit for one batch append
	maxSize        = 1 << 20
	maxStreams     = 100_000
	maxEvents      = 1_000_000_000
	maxDuration    = 24 * time.Hour
	maxLimit       = 10_000
	maxBodyBytes   = 256 << 20
	maxKeys        = 10_000_000
	maxLagInterval = time.Minute
)

// RegisterFlags binds the generator's flags to c, with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "url", "", "base URL of a running eventd (loopback only), e.g. http://127.0.0.1:2113")
	fs.IntVar(&c.Concurrency, "concurrency", DefaultConcurrency, "concurrent workers, one keep-alive connection each")
	fs.IntVar(&c.Batch, "batch", DefaultBatch, "events per append request (1: POST /api/events; more: POST /api/streams/{id}/events)")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to run each timed phase; default 10s unless --events is given")
	fs.Int64Var(&c.Events, "events", 0, "end each timed phase after this many events (appends; commands, queries, ryw pairs; items a where phase returned) instead of after --duration")
	fs.IntVar(&c.Size, "size", DefaultSize, "bytes of eventData per event ({\"pad\":\"xx…\"}; 10 is the smallest possible)")
	fs.IntVar(&c.Streams, "streams", DefaultStreams, "streams per worker, written round-robin with exact expected versions")
	fs.StringVar(&c.Mode, "mode", ModeAppend, "what to measure: append, read, commands (vs appends), projection (catch-up and live lag), ryw (read-your-writes), query (key lookups and where lists), fsync (the disk under --probe-dir: write+fdatasync of one --size record, appending and overwriting)")
	fs.BoolVar(&c.Read, "read", false, "alias of --mode read: stream pages, $all pages, replay, SSE catch-up of $all and of streams")
	fs.Int64Var(&c.Seed, "seed", DefaultSeed, "with --mode read or projection: events to append first (0: use what the store holds)")
	fs.IntVar(&c.Limit, "limit", DefaultLimit, "with --read: events per page of stream and $all reads")
	fs.StringVar(&c.Client, "client", "raw", "HTTP client: raw (keep-alive HTTP/1.1 over net.Conn) or std (net/http)")
	fs.DurationVar(&c.MaxDuration, "max-duration", DefaultMaxDuration, "hard time bound on a phase bounded by --events")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON instead of a table")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line on stderr")
	fs.StringVar(&c.RunID, "run-id", "", "run id used in stream ids bench-<run-id>-w<k>-s<j> (default random)")
	fs.BoolVar(&c.Schema, "schema", false, "with --mode append: first register a JSON Schema of 10 typed fields for the run's event type, and send eventData of those 10 fields (compare with --schema-fields)")
	fs.BoolVar(&c.SchemaFields, "schema-fields", false, "with --mode append: send the same 10-field eventData as --schema, under an event type without a schema (the baseline of --schema)")
	fs.BoolVar(&c.ProjectionState, "projection-state", false, "with --mode projection: also create a state projection (keyed by stream id) and measure its catch-up and lag")
	fs.DurationVar(&c.LagInterval, "lag-interval", DefaultLagInterval, "with --mode projection: pause between two lag samples")
	fs.BoolVar(&c.RYWCommand, "ryw-command", false, "with --mode ryw: write with a CreateUser command (a new user each time) instead of an append")
	fs.IntVar(&c.Keys, "keys", DefaultKeys, "with --mode query: keys seeded into the read model of the key lookups")
	fs.IntVar(&c.WhereItems, "where-items", DefaultWhereItems, "with --mode query: items seeded into the read model of the where queries (0: no where phase)")
	fs.IntVar(&c.WhereConcurrency, "where-concurrency", 1, "with --mode query: workers of the where phase (each query scans the whole read model)")
	fs.StringVar(&c.ProbeDir, "probe-dir", ".", "with --mode fsync: the directory whose disk is probed (put it on the data dir's file system); a temporary file is made and removed there")
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// Validate checks c and fills in the defaults that depend on other fields
// (Duration when neither it nor Events is set). URL may be empty: the
// caller then starts a daemon and sets it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case c.Read && c.Mode != "" && c.Mode != ModeAppend && c.Mode != ModeRead:
		bad("--read is --mode read: it cannot be combined with --mode %s", c.Mode)
	case c.Read || c.Mode == ModeRead:
		c.Mode, c.Read = ModeRead, true
	case c.Mode == "":
		c.Mode = ModeAppend
	case !slices.Contains(modes, c.Mode):
		bad("--mode must be one of %s, got %q", strings.Join(modes, ", "), c.Mode)
	}
	onlyIn := func(set bool, flag, mode string) {
		if set && c.Mode != mode {
			bad("%s applies only to --mode %s", flag, mode)
		}
	}
	onlyIn(c.Schema, "--schema", ModeAppend)
	onlyIn(c.SchemaFields, "--schema-fields", ModeAppend)
	onlyIn(c.ProjectionState, "--projection-state", ModeProjection)
	onlyIn(c.RYWCommand, "--ryw-command", ModeRYW)
	if c.Batch != 1 && c.Mode != ModeAppend && c.Mode != ModeRead {
		bad("--batch applies only to --mode append: --mode %s sends single events", c.Mode)
	}
	if c.LagInterval < 0 || c.LagInterval > maxLagInterval {
		bad("--lag-interval must be 0…%s, got %s", maxLagInterval, c.LagInterval)
	}
	if c.Mode == ModeFsync {
		if c.Events != 0 {
			bad("--mode fsync runs for --duration, not --events")
		}
		if c.ProbeDir == "" {
			bad("--probe-dir must name a directory")
		}
	}
	if c.Mode == ModeQuery {
		if c.Keys < 1 || c.Keys > maxKeys {
			bad("--keys must be 1…%d, got %d", maxKeys, c.Keys)
		}
		if c.WhereItems < 0 || c.WhereItems > maxKeys {
			bad("--where-items must be 0…%d, got %d", maxKeys, c.WhereItems)
		}
		if c.WhereConcurrency < 1 || c.WhereConcurrency > c.Concurrency {
			bad("--where-concurrency must be 1…--concurrency (%d), got %d", c.Concurrency, c.WhereConcurrency)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		bad("--concurrency must be 1…%d, got %d", maxConcurrency, c.Concurrency)
	}
	if c.Batch < 1 || c.Batch > maxBatch {
		bad("--batch must be 1…%d, got %d", maxBatch, c.Batch)
	}
	switch {
	case c.Duration != 0 && c.Events != 0:
		bad("--duration and --events are exclusive: give one")
	case c.Duration < 0 || c.Duration > maxDuration:
		bad("--duration must be positive and at most %s, got %s", maxDuration, c.Duration)
	case c.Events < 0 || c.Events > maxEvents:
		bad("--events must be 1…%d, got %d", int64(maxEvents), c.Events)
	case c.Duration == 0 && c.Events == 0:
		c.Duration = DefaultDuration
	}
	if c.MaxDuration <= 0 || c.MaxDuration > maxDuration {
		bad("--max-duration must be positive and at most %s, got %s", maxDuration, c.MaxDuration)
	}
	if c.Size < 0 || c.Size > maxSize {
		bad("--size must be 0…%d, got %d", maxSize, c.Size)
	}
	if c.Streams < 1 || c.Streams > maxStreams {
		bad("--streams must be 1…%d, got %d", maxStreams, c.Streams)
	}
	if c.Concurrency > 0 && c.Streams > 0 && c.Concurrency*c.Streams > maxStreams {
		bad("--concurrency × --streams must be at most %d, got %d", maxStreams, c.Concurrency*c.Streams)
	}
	if c.Seed < 0 || c.Seed > maxEvents {
		bad("--seed must be 0…%d, got %d", int64(maxEvents), c.Seed)
	}
	if c.Limit < 1 || c.Limit > maxLimit {
		bad("--limit must be 1…%d, got %d", maxLimit, c.Limit)
	}
	if c.Client != "raw" && c.Client != "std" {
		bad("--client must be raw or std, got %q", c.Client)
	}
	if c.RunID != "" && !runIDPattern.MatchString(c.RunID) {
		bad("--run-id must be 1–32 letters or digits, got %q", c.RunID)
	}
	if c.Batch > 0 && c.Size >= 0 && int64(c.Batch)*int64(max(c.Size, eventDataOverhead)+64) > maxBodyBytes {
		bad("--batch × --size makes request bodies over %d bytes", maxBodyBytes)
	}
	return errors.Join(errs...)
}

// checkURL accepts only http URLs on a loopback address: the generator
// never sends load anywhere else.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url: %v", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("--url must be http://127.0.0.1:PORT, got scheme %q", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("--url must be a bare http://HOST:PORT, got %q", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--url must target a loopback address (127.0.0.1, ::1, localhost), got %q", host)
	}
	return nil
}
