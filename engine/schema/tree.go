package schema

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/eventd/eventd/engine/jsonv"
)

// tree is eventData as an upcaster edits it. Only the objects an op walks
// into are parsed into members (raw key, value node); every other value
// stays the stored bytes and is written back verbatim, so an upcast costs
// a scan of the top level plus what the ops touch — not a decode and
// re-encode of the whole event. Member order is kept: renamed and replaced
// members stay where they were, new ones go last.
type tree struct {
	nodes []tnode
}

// tnode is a value, and when it is an object's member also its key and
// the link to the next member.
type tnode struct {
	raw    []byte // the value's JSON as stored or made; for parsed objects, what was parsed
	parsed bool   // an object whose members are the list first→next
	first  int32  // first member (-1: none)
	last   int32
	key    []byte // as a member: the raw (escaped) key, without quotes
	next   int32
	esc    bool // key holds a backslash: compare it unescaped too
}

const none = -1

// errShape is an op meeting a value of the wrong kind.
var errShape = errors.New("wrong kind of value")

var trees = sync.Pool{New: func() any { return &tree{nodes: make([]tnode, 0, 32)} }}

// newTree returns a tree of data from the pool; release it when done.
func newTree(data []byte) *tree {
	t := trees.Get().(*tree)
	t.nodes = append(t.nodes[:0], tnode{raw: data, first: none, last: none, next: none})
	return t
}

// release pools t; nothing of it may be used afterwards.
func (t *tree) release() {
	if cap(t.nodes) > 1024 {
		return
	}
	clear(t.nodes)
	trees.Put(t)
}

func (t *tree) add(n tnode) int32 {
	n.first, n.last, n.next = none, none, none
	t.nodes = append(t.nodes, n)
	return int32(len(t.nodes) - 1)
}

// kind names the JSON kind of node i, for messages.
func (t *tree) kind(i int32) string {
	n := &t.nodes[i]
	if n.parsed {
		return "an object"
	}
	switch c := firstByte(n.raw); {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "a number"
}

func firstByte(raw []byte) byte {
	if i := jsonv.SkipWS(raw, 0); i < len(raw) {
		return raw[i]
	}
	return 0
}

func (t *tree) isNull(i int32) bool { return !t.nodes[i].parsed && firstByte(t.nodes[i].raw) == 'n' }

// parse turns node i, which must hold an object, into members. A key
// given twice keeps only its last value (as decoding does).
func (t *tree) parse(i int32) error {
	if t.nodes[i].parsed {
		return nil
	}
	raw := t.nodes[i].raw
	p := jsonv.SkipWS(raw, 0)
	if p >= len(raw) || raw[p] != '{' {
		return errShape
	}
	t.nodes[i].parsed = true
	p = jsonv.SkipWS(raw, p+1)
	if p < len(raw) && raw[p] == '}' {
		return nil
	}
	for {
		p = jsonv.SkipWS(raw, p)
		ks := p
		end, err := jsonv.Skip(raw, p)
		if err != nil || raw[ks] != '"' {
			return fmt.Errorf("eventData is not valid JSON: %v", err)
		}
		key := raw[ks+1 : end-1]
		esc := bytes.IndexByte(key, '\\') >= 0
		plain := ""
		if esc {
			if plain, err = jsonv.Unquote(raw[ks:end]); err != nil {
				return fmt.Errorf("eventData is not valid JSON: %v", err)
			}
		}
		p = jsonv.SkipWS(raw, end)
		if p >= len(raw) || raw[p] != ':' {
			return fmt.Errorf("eventData is not valid JSON at byte %d", p)
		}
		vs := jsonv.SkipWS(raw, p+1)
		if p, err = jsonv.Skip(raw, vs); err != nil {
			return fmt.Errorf("eventData is not valid JSON: %v", err)
		}
		if old := t.find(i, key, plain); old != none {
			t.unlink(i, old) // the last of duplicate keys wins, as in decoding
		}
		t.link(i, t.add(tnode{raw: raw[vs:p], key: key, esc: esc}))
		p = jsonv.SkipWS(raw, p)
		if p >= len(raw) {
			return fmt.Errorf("eventData is not valid JSON: unexpected end")
		}
		if raw[p] == '}' {
			return nil
		}
		if raw[p] != ',' {
			return fmt.Errorf("eventData is not valid JSON at byte %d", p)
		}
		p++
	}
}

// link appends member m to object i.
func (t *tree) link(i, m int32) {
	t.nodes[m].next = none
	if t.nodes[i].last == none {
		t.nodes[i].first = m
	} else {
		t.nodes[t.nodes[i].last].next = m
	}
	t.nodes[i].last = m
}

// unlink removes member m from object i.
func (t *tree) unlink(i, m int32) {
	prev := int32(none)
	for c := t.nodes[i].first; c != none; prev, c = c, t.nodes[c].next {
		if c != m {
			continue
		}
		if prev == none {
			t.nodes[i].first = t.nodes[c].next
		} else {
			t.nodes[prev].next = t.nodes[c].next
		}
		if t.nodes[i].last == c {
			t.nodes[i].last = prev
		}
		return
	}
}

// find returns the member of parsed object i whose key is rawKey, a raw
// (escaped) key; plain is rawKey unescaped, needed when it holds escapes.
// Keys written with escapes (needless ones included) are compared
// unescaped, so "n\u0061me" is the member "name".
func (t *tree) find(i int32, rawKey []byte, plain string) int32 {
	keyEsc := bytes.IndexByte(rawKey, '\\') >= 0
	if !keyEsc {
		plain = string(rawKey)
	}
	for c := t.nodes[i].first; c != none; c = t.nodes[c].next {
		k := t.nodes[c].key
		if bytes.Equal(k, rawKey) {
			return c
		}
		if t.nodes[c].esc || keyEsc {
			if s, err := jsonv.Unquote(append(append([]byte{'"'}, k...), '"')); err == nil && s == plain {
				return c
			}
		}
	}
	return none
}

// walk returns the object that holds p's last segment. create makes
// missing objects (and turns a null on the way into one); without it a
// missing one gives none. A non-object on the way is an error.
func (t *tree) walk(p *path, create bool) (int32, error) {
	cur := int32(0)
	if err := t.parse(cur); err != nil {
		return none, err
	}
	for i := 0; i < len(p.raw)-1; i++ {
		m := t.find(cur, p.raw[i], p.plain[i])
		switch {
		case m == none && !create:
			return none, nil
		case m == none:
			m = t.add(tnode{raw: []byte("{}"), key: p.raw[i]})
			t.link(cur, m)
		case t.isNull(m):
			if !create {
				return none, nil
			}
			t.nodes[m].raw, t.nodes[m].parsed = []byte("{}"), false
		}
		if err := t.parse(m); err != nil {
			return none, fmt.Errorf("%s is %s, not an object", p.name(i+1), t.kind(m))
		}
		cur = m
	}
	return cur, nil
}

// get returns the member at p (none: absent).
func (t *tree) get(p *path) (int32, error) {
	parent, err := t.walk(p, false)
	if err != nil || parent == none {
		return none, err
	}
	return t.find(parent, p.last(), p.plain[len(p.plain)-1]), nil
}

// remove deletes the member at p, if there (a non-object on the way means
// it is not there).
func (t *tree) remove(p *path) error {
	parent, err := t.walk(p, false)
	if err != nil || parent == none {
		return nil //nolint:nilerr // through a non-object: nothing to remove
	}
	if m := t.find(parent, p.last(), p.plain[len(p.plain)-1]); m != none {
		t.unlink(parent, m)
	}
	return nil
}

// put sets p to the value of node v (a member that exists keeps its place).
func (t *tree) put(p *path, v int32) error {
	parent, err := t.walk(p, true)
	if err != nil {
		return err
	}
	if m := t.find(parent, p.last(), p.plain[len(p.plain)-1]); m != none {
		key, next, esc := t.nodes[m].key, t.nodes[m].next, t.nodes[m].esc
		t.nodes[m] = t.nodes[v]
		t.nodes[m].key, t.nodes[m].next, t.nodes[m].esc = key, next, esc
		return nil
	}
	t.nodes[v].key, t.nodes[v].esc = p.last(), bytes.IndexByte(p.last(), '\\') >= 0
	t.link(parent, v)
	return nil
}

// value adds a node holding raw JSON and returns it.
func (t *tree) value(raw []byte) int32 { return t.add(tnode{raw: raw}) }

// encode appends node i as JSON.
func (t *tree) encode(dst []byte, i int32) []byte {
	n := &t.nodes[i]
	if !n.parsed {
		return append(dst, n.raw...)
	}
	dst = append(dst, '{')
	for c, first := n.first, true; c != none; c = t.nodes[c].next {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, t.nodes[c].key...)
		dst = append(dst, '"', ':')
		dst = t.encode(dst, c)
	}
	return append(dst, '}')
}

// text returns node i as text for map and join: a string's content, or a
// number's or boolean's JSON.
func (t *tree) text(i int32) (string, bool) {
	n := &t.nodes[i]
	if n.parsed {
		return "", false
	}
	raw := n.raw[jsonv.SkipWS(n.raw, 0):]
	switch c := firstByte(raw); {
	case c == '"':
		s, err := jsonv.Unquote(bytes.TrimRight(raw, " \t\r\n"))
		return s, err == nil
	case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
		return string(bytes.TrimRight(raw, " \t\r\n")), true
	}
	return "", false
}

// path is a dotted path, as plain segments and as raw (escaped) keys.
type path struct {
	plain []string
	raw   [][]byte
}

func newPath(segs []string) *path {
	p := &path{plain: segs}
	for _, s := range segs {
		q := jsonv.AppendString(nil, s)
		p.raw = append(p.raw, q[1:len(q)-1])
	}
	return p
}

func (p *path) last() []byte { return p.raw[len(p.raw)-1] }

// name is the first n segments, dotted, for messages.
func (p *path) name(n int) string { return name(p.plain[:n]) }
