package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
)

// handleHealth is GET /health: not enveloped; 200 when healthy, 503 when
// degraded (corruption found) or unhealthy (sticky storage failure).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	st := s.store.Stats()
	problems := s.store.Problems()
	status, code := "healthy", http.StatusOK
	switch {
	case s.store.Err() != nil:
		status, code = "unhealthy", http.StatusServiceUnavailable
		if len(problems) == 0 {
			problems = []string{s.store.Err().Error()}
		}
	case len(problems) > 0 || s.store.Degraded():
		status, code = "degraded", http.StatusServiceUnavailable
		if len(problems) == 0 {
			problems = []string{"corruption found: reads of damaged events fail"}
		}
	}
	now := time.Now()
	bp := getBuf()
	b := append((*bp)[:0], `{"status":"`...)
	b = append(b, status...)
	b = append(b, `","timestamp":`...)
	b = appendTime(b, now)
	b = append(b, `,"totalEvents":`...)
	b = appendUint(b, st.Head)
	b = append(b, `,"totalStreams":`...)
	b = appendUint(b, uint64(st.Streams))
	b = append(b, `,"totalCommands":`...)
	b = appendUint(b, s.cfg.TotalCommands())
	b = append(b, `,"headPosition":`...)
	b = appendUint(b, st.Head)
	b = append(b, `,"uptimeSeconds":`...)
	b = strconv.AppendFloat(b, now.Sub(s.started).Seconds(), 'f', 3, 64)
	b = append(b, `,"fsync":`...)
	b = appendString(b, s.store.Policy())
	b = append(b, `,"dataDirBytes":`...)
	b = appendUint(b, uint64(max(st.DataBytes, 0)))
	b = append(b, `,"problems":[`...)
	for i, p := range problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	b = append(b, "]}\n"...)
	w.Header()["Cache-Control"] = hdrNoStore
	writeRaw(w, code, b)
	*bp = b
	putBuf(bp)
}
