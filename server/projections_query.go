package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine/projection"
)

// Waits of read-your-writes queries (docs/api.md "GET /api/queries").
const (
	defaultQueryTimeout = 5 * time.Second
	maxQueryTimeout     = 30 * time.Second
)

// handleQuery is GET /api/queries/{queryId}: one entry (key) or a page of
// entries (where, limit, cursor) of a projection's read model, after
// waiting, with minPosition, until the projection has processed that
// position.
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	m := s.projections(w)
	if m == nil {
		return
	}
	id := ps.ByName("queryId")
	q, e := parseQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	key, hasKey, e := q.get("key")
	if e != nil {
		writeError(w, e)
		return
	}
	if hasKey && key == "" {
		writeError(w, badRequest("query parameter key must not be empty"))
		return
	}
	minPos, hasMin, e := q.uint("minPosition")
	if e != nil {
		writeError(w, e)
		return
	}
	timeout, e := queryTimeout(q)
	if e != nil {
		writeError(w, e)
		return
	}
	var list projection.Query
	if !hasKey {
		if list, e = listQuery(q); e != nil {
			writeError(w, e)
			return
		}
	} else if _, ok := q.v["where"]; ok || q.v.Has("limit") || q.v.Has("cursor") {
		writeError(w, badRequest("key reads one entry: it cannot be combined with where, limit or cursor"))
		return
	}
	if hasMin {
		if e := s.awaitProjection(r.Context(), m, id, minPos, timeout); e != nil {
			writeError(w, e)
			return
		}
	}
	if hasKey {
		en, err := m.Lookup(id, key)
		if err != nil {
			writeError(w, projectionError(err))
			return
		}
		bp := startOK()
		b := appendQueryHead(*bp, id, en.Position)
		b = append(b, `,"key":`...)
		b = appendString(b, en.Key)
		b = append(b, `,"value":`...)
		*bp = append(append(b, en.Value...), '}')
		sendOK(w, http.StatusOK, bp)
		return
	}
	page, err := m.Query(id, list)
	if err != nil {
		writeError(w, projectionError(err))
		return
	}
	bp := startOK()
	b := append(appendQueryHead(*bp, id, page.Position), `,"items":[`...)
	for i, it := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, it.Key)
		b = append(b, `,"value":`...)
		b = append(append(b, it.Value...), '}')
	}
	b = append(b, ']')
	if page.More {
		b = append(b, `,"nextCursor":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, []byte(page.Next))
		b = append(b, '"')
	}
	*bp = append(b, '}')
	sendOK(w, http.StatusOK, bp)
}

func appendQueryHead(b []byte, id string, pos uint64) []byte {
	b = append(b, `{"queryId":`...)
	b = appendString(b, id)
	b = append(b, `,"position":`...)
	return appendUint(b, pos)
}

// awaitProjection waits until projection id has processed pos, for at
// most timeout: 503 when it does not in time (or is in error), 404 when
// there is no such projection.
func (s *Server) awaitProjection(ctx context.Context, m *projection.Manager, id string, pos uint64, timeout time.Duration) *apiError {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := m.Wait(ctx, id, pos)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		at := ""
		if info, err := m.Get(id); err == nil {
			at = " (it is at " + strconv.FormatUint(info.LastProcessed, 10) + ")"
		}
		return errf(http.StatusServiceUnavailable, codeUnavailable, "projection "+quoteShort(id)+" has not processed position "+
			strconv.FormatUint(pos, 10)+" within "+timeout.String()+at)
	case errors.Is(err, projection.ErrFailed):
		return errf(http.StatusServiceUnavailable, codeUnavailable, "projection "+quoteShort(id)+" will not reach position "+
			strconv.FormatUint(pos, 10)+": "+trimPkg(err))
	}
	return projectionError(err)
}

// queryTimeout reads timeout: a Go duration ("5s", "1500ms") or whole
// seconds ("5"); default 5 s, at most 30 s.
func queryTimeout(q query) (time.Duration, *apiError) {
	s, ok, e := q.get("timeout")
	if e != nil || !ok {
		return defaultQueryTimeout, e
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, err := parseUint(s)
		if err != nil || n > uint64(maxQueryTimeout/time.Second) {
			return 0, badRequest("query parameter timeout=" + quoteShort(s) + ": want a duration such as 5s or 1500ms, at most 30s")
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 || d > maxQueryTimeout {
		return 0, badRequest("query parameter timeout=" + quoteShort(s) + ": want a duration from 0s to 30s")
	}
	return d, nil
}

// listQuery reads where (repeatable: field:value), limit and cursor.
func listQuery(q query) (projection.Query, *apiError) {
	var lq projection.Query
	var e *apiError
	if lq.Limit, e = q.limit(); e != nil {
		return lq, e
	}
	if c, ok, e := q.get("cursor"); e != nil {
		return lq, e
	} else if ok && c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(raw) == 0 {
			return lq, badRequest("query parameter cursor: not a cursor this server gave out")
		}
		lq.After = string(raw)
	}
	ws := q.v["where"]
	if len(ws) > projection.MaxWhere {
		return lq, badRequest("at most " + strconv.Itoa(projection.MaxWhere) + " where conditions")
	}
	for _, w := range ws {
		field, value, ok := strings.Cut(w, ":")
		if !ok || field == "" {
			return lq, badRequest("query parameter where=" + quoteShort(w) + ": want <field>:<value>")
		}
		lq.Where = append(lq.Where, projection.Cond{Field: field, Value: value})
	}
	return lq, nil
}
