package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// Validate implements engine.Validator: an event appended at its type's
// current version must match the type's JSON Schema; one above the current
// version is refused (no chain could read it).
func (r *Registry) Validate(streamID string, e *engine.Proposed) error {
	ts, ok := r.types.Load().lookup(e.Type)
	if !ok {
		return nil
	}
	v := max(e.SchemaVersion, 1)
	switch {
	case v > ts.def.CurrentVersion:
		return &engine.SchemaViolationError{Type: e.Type, Version: v, Violations: []engine.Violation{{Path: "",
			Message: fmt.Sprintf("schemaVersion %d is above the current version %d of %s", v, ts.def.CurrentVersion, e.Type)}}}
	case v < ts.def.CurrentVersion || ts.validate == nil:
		return nil
	}
	inst, err := jsonv.DecodeObject(e.Data)
	if err != nil {
		return &engine.SchemaViolationError{Type: e.Type, Version: v, Violations: []engine.Violation{{Path: "", Message: "eventData: " + err.Error()}}}
	}
	err = ts.validate.Validate(inst)
	if err == nil {
		return nil
	}
	sv := &engine.SchemaViolationError{Type: e.Type, Version: v}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		sv.Violations = []engine.Violation{{Message: err.Error()}}
		return sv
	}
	for _, u := range leaves(ve.BasicOutput()) {
		sv.Violations = append(sv.Violations, engine.Violation{Path: u.InstanceLocation, Message: u.Error.String()})
	}
	if len(sv.Violations) == 0 {
		sv.Violations = []engine.Violation{{Message: ve.Error()}}
	}
	return sv
}

// leaves are the output units that carry an error, without the summaries
// of their parents ("doesn't validate with …").
func leaves(u *jsonschema.OutputUnit) []jsonschema.OutputUnit {
	var out []jsonschema.OutputUnit
	for _, e := range u.Errors {
		if e.Error != nil && len(e.Errors) == 0 {
			out = append(out, e)
		}
		out = append(out, leaves(&e)...)
	}
	return out
}

// compileJSONSchema compiles a type's JSON Schema. $ref may point only
// inside the document: loading other URLs (files, the network) is refused.
func compileJSONSchema(eventType string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	url := "eventd:///schemas/" + eventType + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), url, "jsonSchema"))
	}
	return sch, nil
}

// noLoader refuses every external $ref.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s: only references inside the schema are allowed", url)
}
