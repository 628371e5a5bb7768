package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The layering of the code base (DESIGN, docs/internals.md): arrows go one
// way, cmd → server → engine/<subsystem> → engine → {segment, index}.
// engine never imports its subsystems; segment and index import neither.
// Each layer lists the layers its (non-test) code may import.
var layering = map[string][]string{
	"cmd":       {"bench", "client", "server", "subsystem", "engine", "segment", "vfs", "index"},
	"examples":  {"client"},
	"bench":     {"client", "server", "subsystem", "engine"},
	"client":    {},
	"server":    {"subsystem", "engine"},
	"subsystem": {"subsystem", "engine", "vfs"},
	"engine":    {"segment", "vfs", "index"},
	"segment":   {"vfs"},
	"index":     {},
	"vfs":       {},
}

// layerOf names the layer of a package of this module.
func layerOf(module, pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	switch {
	case rel == "engine":
		return "engine"
	case strings.HasPrefix(rel, "engine/"):
		return "subsystem"
	case rel == "segment/vfs":
		return "vfs"
	}
	top, _, _ := strings.Cut(rel, "/")
	if _, ok := layering[top]; ok {
		return top
	}
	return ""
}

type listedPackage struct {
	ImportPath string
	Module     *struct{ Path string }
	Imports    []string
}

func TestLayering(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs, err := decodePackages(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 8 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		if p.Module == nil {
			t.Fatalf("%s has no module", p.ImportPath)
		}
		if msg := checkImports(p.Module.Path, p.ImportPath, p.Imports); msg != "" {
			t.Error(msg)
		}
	}
}

// checkImports returns what is wrong with pkg's imports ("" if nothing).
func checkImports(module, pkg string, imports []string) string {
	from := layerOf(module, pkg)
	if from == "" {
		return pkg + ": a package in no layer: add its folder to the layering table in cmd/eventd/layering_test.go (and to docs/internals.md)"
	}
	var bad []string
	for _, imp := range imports {
		if imp != module && !strings.HasPrefix(imp, module+"/") {
			continue
		}
		to := layerOf(module, imp)
		if !slices.Contains(layering[from], to) {
			bad = append(bad, imp+" ("+to+")")
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return pkg + " (" + from + ") imports " + strings.Join(bad, ", ") + ": against the layering " + from + " → " + strings.Join(layering[from], ", ")
}

func decodePackages(b []byte) ([]listedPackage, error) {
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// The check itself catches back edges.
func TestLayeringRules(t *testing.T) {
	for _, c := range []struct {
		pkg  string
		imps []string
		ok   bool
	}{
		{"m/engine", []string{"m/segment", "m/index", "m/segment/vfs", "fmt"}, true},
		{"m/engine", []string{"m/engine/reducer"}, false},
		{"m/engine/command", []string{"m/engine/reducer", "m/engine"}, true},
		{"m/engine/command", []string{"m/server"}, false},
		{"m/engine/snapshot", []string{"m/segment"}, false},
		{"m/segment", []string{"m/engine"}, false},
		{"m/segment", []string{"m/index"}, false},
		{"m/index", []string{"m/segment"}, false},
		{"m/server", []string{"m/engine/projection", "m/engine"}, true},
		{"m/server", []string{"m/cmd/eventd"}, false},
		{"m/newthing", nil, false},
	} {
		if got := checkImports("m", c.pkg, c.imps) == ""; got != c.ok {
			t.Errorf("%s importing %v: ok=%v, want %v", c.pkg, c.imps, got, c.ok)
		}
	}
}
