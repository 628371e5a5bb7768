package server

import (
	"errors"
	"net/http"

	"github.com/eventd/eventd/engine"
)

// schemaError answers an append the schemas refuse, or a read that met an
// event its upcaster chain cannot upcast: 422 schema_violation, with what
// failed in details.
//
//	append: {"event": i, "eventType", "schemaVersion", "violations": [{"path", "message"}...]}
//	read:   {"position", "eventType", "schemaVersion"}  (read with upcast=false to see it)
func schemaError(err error) *apiError {
	e := errf(http.StatusUnprocessableEntity, codeSchemaViolation, err.Error())
	var sv *engine.SchemaViolationError
	var ue *engine.UpcastError
	switch {
	case errors.As(err, &sv):
		d := append([]byte(`{"event":`), appendUint(nil, uint64(sv.Index))...)
		d = append(d, `,"eventType":`...)
		d = appendString(d, sv.Type)
		d = append(d, `,"schemaVersion":`...)
		d = appendUint(d, uint64(sv.Version))
		d = append(d, `,"violations":[`...)
		for i, v := range sv.Violations {
			if i > 0 {
				d = append(d, ',')
			}
			d = append(d, `{"path":`...)
			d = appendString(d, v.Path)
			d = append(d, `,"message":`...)
			d = appendString(d, v.Message)
			d = append(d, '}')
		}
		e.details = append(d, "]}"...)
	case errors.As(err, &ue):
		d := append([]byte(`{"position":`), appendUint(nil, ue.Position)...)
		d = append(d, `,"eventType":`...)
		d = appendString(d, ue.Type)
		d = append(d, `,"schemaVersion":`...)
		d = appendUint(d, uint64(ue.Version))
		e.details = append(d, '}')
		e.msg += " (read with upcast=false to see it as stored)"
	}
	return e
}
