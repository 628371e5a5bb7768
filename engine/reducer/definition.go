package reducer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/eventd/eventd/engine"
)

// Definition is a registered reducer (docs/api.md "Reducers"): for each
// event type a list of ops, applied in order; events of other types leave
// the state unchanged.
type Definition struct {
	Name     string          `json:"name"`
	Category string          `json:"category,omitempty"` // "": usable only by name
	Handlers map[string][]Op `json:"handlers"`
}

// Op is one step of a handler.
//
//	merge      RFC 7386 merge of `from` (an object; default eventData) into `path` (default the root)
//	set        path = from (default eventData; the root only takes an object)
//	unset      remove path
//	increment  path += the number at `from`, or `by` (default 1); an absent path counts as 0
//	append     push `from` (default eventData) onto the array at path (absent: a new array)
//	delete     deleted: true, deletedAt: the event's timestamp
//
// path is a dotted path in the state ("" = the root; intermediate objects
// are made as needed). from is eventData[.x.y], metadata[.x.y], timestamp,
// streamId, version, position, eventType or eventId. An absent `from`
// value makes the op do nothing.
type Op struct {
	Op   string      `json:"op"`
	Path string      `json:"path,omitempty"`
	From string      `json:"from,omitempty"`
	By   json.Number `json:"by,omitempty"`
}

// ErrDefinition is wrapped by every error of a definition that does not
// compile (registration refuses it: 400).
var ErrDefinition = errors.New("reducer: invalid definition")

func defErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDefinition}, args...)...)
}

// maxNameLen bounds reducer names.
const maxNameLen = 128

// ValidateName checks a reducer name: 1–128 bytes of [A-Za-z0-9_.:@+=-]
// starting with a letter or digit; "default" is taken.
func ValidateName(name string) error {
	if name == DefaultName {
		return defErr("%q is the built-in default reducer and cannot be replaced", name)
	}
	if len(name) == 0 || len(name) > maxNameLen || engine.ValidateClientStreamID(name) != nil {
		return defErr("invalid reducer name %q: want 1 to %d bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit", name, maxNameLen)
	}
	return nil
}

// validCategory: what Category can return for a client stream (no '-' or
// '_', which end a category).
func validCategory(c string) bool {
	return engine.ValidateClientStreamID(c) == nil && !strings.ContainsAny(c, "-_")
}

// compiled is a Definition ready to apply.
type compiled struct {
	def      Definition
	revision string
	handlers map[string][]op
}

func (c *compiled) Name() string     { return c.def.Name }
func (c *compiled) Revision() string { return c.revision }

// Definition returns what was registered.
func (c *compiled) Definition() Definition { return c.def }

// Compile checks d and returns it as a Reducer. Errors wrap ErrDefinition
// and name the handler and op at fault.
func Compile(d Definition) (Reducer, error) {
	if err := ValidateName(d.Name); err != nil {
		return nil, err
	}
	if d.Category != "" && !validCategory(d.Category) {
		return nil, defErr("invalid category %q: want a stream id's first part (letters, digits and .:@+=, no '-' or '_')", d.Category)
	}
	if len(d.Handlers) == 0 {
		return nil, defErr("handlers must name at least one event type")
	}
	c := &compiled{def: d, handlers: make(map[string][]op, len(d.Handlers))}
	for typ, ops := range d.Handlers {
		if err := engine.ValidateEventType(typ); err != nil {
			return nil, defErr("handlers: %v", err)
		}
		if len(ops) == 0 {
			return nil, defErr("handlers.%s: want an op or a list of at least one op", typ)
		}
		for i, o := range ops {
			co, err := compileOp(o)
			if err != nil {
				return nil, defErr("handlers.%s[%d]: %v", typ, i, err)
			}
			c.handlers[typ] = append(c.handlers[typ], co)
		}
	}
	c.revision = revisionOf(d)
	return c, nil
}

// revisionOf hashes the canonical form of a definition's behaviour (its
// category and handlers, map keys sorted by encoding/json): equal
// definitions have equal revisions, and any change makes another one.
func revisionOf(d Definition) string {
	b, _ := json.Marshal(struct {
		Category string          `json:"category"`
		Handlers map[string][]Op `json:"handlers"`
	}{d.Category, d.Handlers})
	return "r" + strconv.FormatUint(xxhash.Sum64(b), 16)
}

// fromSources are the event fields an op may read.
var fromSources = []string{"eventData", "metadata", "timestamp", "streamId", "version", "position", "eventType", "eventId"}

func compileOp(o Op) (op, error) {
	c := op{kind: o.Op, byNum: "1"}
	path, err := splitPath(o.Path)
	if err != nil {
		return c, fmt.Errorf("path %q: %v", o.Path, err)
	}
	c.path = path
	from := o.From
	if from == "" {
		from = "eventData"
	}
	src, rest, _ := strings.Cut(from, ".")
	if !slices.Contains(fromSources, src) {
		return c, fmt.Errorf("from %q: want eventData[.path], metadata[.path], timestamp, streamId, version, position, eventType or eventId", o.From)
	}
	if rest != "" || strings.HasSuffix(from, ".") {
		if src != "eventData" && src != "metadata" {
			return c, fmt.Errorf("from %q: only eventData and metadata have fields", o.From)
		}
		if c.fromPath, err = splitPath(rest); err != nil || len(c.fromPath) == 0 {
			return c, fmt.Errorf("from %q: empty path segment", o.From)
		}
	}
	c.from = src
	if o.By != "" {
		if o.Op != "increment" {
			return c, fmt.Errorf("\"by\" is for increment only")
		}
		if o.From != "" {
			return c, fmt.Errorf("increment takes \"from\" or \"by\", not both")
		}
		if _, err := o.By.Float64(); err != nil {
			return c, fmt.Errorf("by %q: not a number", o.By)
		}
		c.byNum = o.By
	}
	switch o.Op {
	case "merge", "set":
	case "unset", "append":
		if len(path) == 0 {
			return c, fmt.Errorf("%s needs a path", o.Op)
		}
		if o.Op == "unset" && o.From != "" {
			return c, fmt.Errorf("unset takes no \"from\"")
		}
	case "increment":
		if len(path) == 0 {
			return c, fmt.Errorf("increment needs a path")
		}
		c.useBy = o.From == ""
	case "delete":
		if o.Path != "" || o.From != "" {
			return c, fmt.Errorf("delete takes no path or from")
		}
	case "":
		return c, fmt.Errorf("missing \"op\"")
	default:
		return c, fmt.Errorf("unknown op %q: want merge, set, unset, increment, append or delete", o.Op)
	}
	return c, nil
}

// splitPath splits a dotted path ("" is the root).
func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, errors.New("empty path segment")
		}
	}
	return segs, nil
}
