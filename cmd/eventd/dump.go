package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/segment"
)

// runDump is `eventd dump`: print records for debugging, one JSON object a
// line, as stored (no upcasting), timestamps as the API writes them. With a
// segment file it prints that file's records with the file's name and each
// record's offset; with --stream it prints a stream's events (an unknown or
// invalid stream id is an error: exit 1); with --all the global log. The
// daemon must be stopped (the store is opened).
func runDump(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data directory (for --stream and --all)")
	stream := fs.String("stream", "", "print this stream's events")
	all := fs.Bool("all", false, "print the global log ($all)")
	from := fs.Uint64("from", 0, "start after this version (--stream) or position (--all)")
	limit := fs.Int("limit", 0, "print at most this many events (0: all)")
	file := ""
	fs.Usage = usageWithEnv(fs, "Usage: eventd dump FILE.seg\n       eventd dump [--data-dir DIR] --stream ID [--from V] [--limit N]\n       eventd dump [--data-dir DIR] --all [--from P] [--limit N]\n\nPrints records as JSON lines, for debugging. Run it while the daemon is stopped.")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	modes := 0
	for _, on := range []bool{file != "", *stream != "", *all} {
		if on {
			modes++
		}
	}
	if modes != 1 || *limit < 0 {
		fs.Usage()
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var err error
	if file != "" {
		err = dumpSegment(file, out)
	} else {
		err = dumpStore(*dataDir, *stream, *from, *limit, out, stderr)
	}
	if err != nil {
		out.Flush()
		fmt.Fprintln(stderr, "eventd dump:", err)
		return 1
	}
	return 0
}

// dumpRecord is one printed record.
type dumpRecord struct {
	Position      uint64          `json:"position"`
	StreamID      string          `json:"streamId"`
	Version       uint64          `json:"version"`
	EventID       string          `json:"eventId"`
	EventType     string          `json:"eventType"`
	SchemaVersion uint32          `json:"schemaVersion"`
	Timestamp     string          `json:"timestamp"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Data          json.RawMessage `json:"eventData"`
	File          string          `json:"file,omitempty"` // the segment file (segment dumps)
	Offset        *int64          `json:"offset,omitempty"`
}

func rawOrString(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func dumpStore(dir, stream string, from uint64, limit int, w, stderr io.Writer) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	if stream != "" {
		if err := engine.ValidateStreamID(stream); err != nil {
			return err
		}
	}
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: quietLogger(stderr)})
	if err != nil {
		return err
	}
	defer st.Close()
	if stream != "" {
		if info, ok := st.Stream(stream); !ok || info.Version == 0 {
			return fmt.Errorf("stream %q does not exist in %s", stream, dir)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	printed := 0
	for limit == 0 || printed < limit {
		n := 1000
		if limit > 0 {
			n = min(n, limit-printed)
		}
		var page engine.Page
		if stream != "" {
			page, err = st.ReadStream(stream, from, engine.Forward, n)
		} else {
			page, err = st.ReadAll(from, engine.Forward, n, engine.Filter{})
		}
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := enc.Encode(dumpRecord{
				Position: e.Position, StreamID: e.StreamID, Version: e.Version, EventID: e.ID,
				EventType: e.Type, SchemaVersion: e.SchemaVersion, Timestamp: reducer.FormatTime(e.Timestamp),
				Metadata: rawOrString(e.Metadata), Data: rawOrString(e.Data),
			}); err != nil {
				return err
			}
			printed++
		}
		if page.Next == 0 || len(page.Events) == 0 {
			return nil
		}
		from = page.Next
	}
	return nil
}

// dumpSegment prints one segment file's records. The file is copied into a
// scratch log directory and opened there, so the original is never touched
// (opening a log may cut a torn tail).
func dumpSegment(path string, w io.Writer) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.MkdirTemp("", "eventd-dump-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dst, err := os.Create(filepath.Join(tmp, filepath.Base(path)))
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	l, err := segment.Open(tmp, segment.Options{Logger: quietLogger(os.Stderr)})
	if err != nil {
		return err
	}
	defer l.Close()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	name := filepath.Base(path)
	return l.Replay(0, func(r *segment.Record, loc segment.Loc) error {
		off := segment.LocOffset(loc)
		return enc.Encode(dumpRecord{
			Position: r.Position, StreamID: r.StreamID, Version: r.Version, EventID: r.EventID,
			EventType: r.Type, SchemaVersion: r.SchemaVersion, Timestamp: reducer.FormatTime(time.Unix(0, r.Timestamp)),
			Metadata: rawOrString(r.Metadata), Data: rawOrString(r.Data), File: name, Offset: &off,
		})
	})
}

// quietLogger logs warnings and errors only: dump's output is the records.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
