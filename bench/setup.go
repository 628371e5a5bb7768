package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Setup requests happen once per run, outside any measured phase, so they
// use net/http and encoding/json plainly.

var setupClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	res, err := setupClient.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

// fetchHead asks /health for the head position.
func fetchHead(cfg Config) (uint64, error) {
	var h struct {
		HeadPosition uint64 `json:"headPosition"`
	}
	if err := getJSON(strings.TrimSuffix(cfg.URL, "/")+"/health", &h); err != nil {
		return 0, fmt.Errorf("bench: reading head position: %w", err)
	}
	return h.HeadPosition, nil
}

// discoverStreams lists up to 1000 client streams already in the store, for
// --read --seed 0.
func discoverStreams(cfg Config) ([]*streamState, error) {
	var page struct {
		Data struct {
			Streams []struct {
				StreamID       string `json:"streamId"`
				CurrentVersion uint64 `json:"currentVersion"`
			} `json:"streams"`
		} `json:"data"`
	}
	if err := getJSON(strings.TrimSuffix(cfg.URL, "/")+"/api/streams?limit=1000", &page); err != nil {
		return nil, fmt.Errorf("bench: listing streams: %w", err)
	}
	var out []*streamState
	for _, s := range page.Data.Streams {
		if s.CurrentVersion == 0 || strings.HasPrefix(s.StreamID, "$") || !safeStreamID(s.StreamID) {
			continue
		}
		out = append(out, newStreamState(s.StreamID, s.CurrentVersion))
	}
	return out, nil
}

// safeStreamID reports whether id can go into a URL path unescaped.
func safeStreamID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.:@+=-", c) >= 0) {
			return false
		}
	}
	return id != ""
}
