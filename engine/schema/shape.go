package schema

import (
	"fmt"
	"strings"
)

// checkShapes refuses a chain whose own ops give a value the wrong kind for
// a later op: a set of a number then a split of it, a set of a string then
// a move into it as if it were an object. It tracks the kinds the chain
// itself makes certain (constants set, split and join results); anything
// the stored data decides is checked when an event is read.
func checkShapes(steps [][]op) error {
	known := map[string]string{} // dotted path → kind the chain made certain
	through := func(p []string) error {
		for i := 1; i < len(p); i++ {
			if k, ok := known[name(p[:i])]; ok && k != "an object" {
				return fmt.Errorf("%s is %s (made so earlier in the chain), not an object", name(p[:i]), k)
			}
		}
		return nil
	}
	forget := func(p []string) {
		pre := name(p)
		for k := range known {
			if k == pre || strings.HasPrefix(k, pre+".") {
				delete(known, k)
			}
		}
	}
	for si, ops := range steps {
		for _, o := range ops {
			fail := func(err error) error {
				return defErr("upcasters[%d].ops[%d] (%s): %v", si, o.n, o.kind, err)
			}
			switch o.kind {
			case "set":
				if err := through(o.path); err != nil {
					return fail(err)
				}
				forget(o.path)
				known[name(o.path)] = kindOf(o.value)
			case "default", "remove":
				if err := through(o.path); err != nil {
					return fail(err)
				}
				forget(o.path)
			case "rename", "move", "copy":
				for _, p := range [][]string{o.from, o.to} {
					if err := through(p); err != nil {
						return fail(err)
					}
				}
				k, ok := known[name(o.from)]
				if o.kind != "copy" {
					forget(o.from)
				}
				forget(o.to)
				if ok {
					known[name(o.to)] = k
				}
			case "map":
				if err := through(o.path); err != nil {
					return fail(err)
				}
				if k, ok := known[name(o.path)]; ok && k != "a string" && k != "a number" && k != "a boolean" {
					return fail(fmt.Errorf("%s is %s: map takes a string, number or boolean", name(o.path), k))
				}
				forget(o.path)
			case "split":
				if err := through(o.from); err != nil {
					return fail(err)
				}
				if k, ok := known[name(o.from)]; ok && k != "a string" {
					return fail(fmt.Errorf("%s is %s: split takes a string", name(o.from), k))
				}
				if !o.keep {
					forget(o.from)
				}
				for _, p := range o.toList {
					if err := through(p); err != nil {
						return fail(err)
					}
					forget(p)
					known[name(p)] = "a string"
				}
			case "join":
				for _, p := range o.fromList {
					if err := through(p); err != nil {
						return fail(err)
					}
					if k, ok := known[name(p)]; ok && k != "a string" && k != "a number" && k != "null" {
						return fail(fmt.Errorf("%s is %s: join takes strings and numbers", name(p), k))
					}
				}
				if !o.keep {
					for _, p := range o.fromList {
						forget(p)
					}
				}
				if err := through(o.to); err != nil {
					return fail(err)
				}
				forget(o.to)
				known[name(o.to)] = "a string"
			}
		}
	}
	return nil
}
