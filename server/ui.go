package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// The web console: static files (HTML, CSS, JavaScript modules) embedded in
// the binary and served under /ui/. They hold no data, so they need no key:
// the console asks for one and sends it with every API call it makes.

//go:embed ui
var uiFS embed.FS

// uiFile is one embedded asset, ready to serve.
type uiFile struct {
	body  []byte
	ctype string
	etag  string
}

// uiTypes are the content types of the console's files (not the system's
// mime.types, which differ between machines: a module script must be served
// as JavaScript or the browser refuses it).
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// uiFiles maps a path under /ui/ ("index.html", "js/app.js") to its file.
var uiFiles = loadUI()

func loadUI() map[string]uiFile {
	files := map[string]uiFile{}
	err := fs.WalkDir(uiFS, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := uiTypes[path.Ext(p)]
		if !ok {
			return nil // only the kinds of file listed are served
		}
		b, err := uiFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[strings.TrimPrefix(p, "ui/")] = uiFile{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("server: embedded console: " + err.Error())
	}
	return files
}

// uiCSP allows the console's own files and API calls only: no inline
// script, no other origin, no framing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// uiRoutes serve the web console: GET and HEAD of /ui/… (open: static files),
// and /ui redirected to /ui/.
func (s *Server) uiRoutes() []route {
	return []route{
		{"GET", "/ui", RoleNone, false, handleUIRedirect},
		{"HEAD", "/ui", RoleNone, false, handleUIRedirect},
		{"GET", "/ui/*file", RoleNone, false, handleUIFile},
		{"HEAD", "/ui/*file", RoleNone, false, handleUIFile},
	}
}

func handleUIRedirect(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	to := "/ui/"
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, to, http.StatusMovedPermanently)
}

// handleUIFile serves one embedded file. The names are not versioned, so
// every answer says "no-cache" (the browser keeps the file but asks again)
// with a content-hash ETag: an unchanged file costs a 304, a new binary's
// files are seen at once.
func handleUIFile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name := strings.TrimPrefix(ps.ByName("file"), "/")
	if name == "" {
		name = "index.html"
	}
	f, ok := uiFiles[name]
	if !ok {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "no such console file: "+quoteShort(name)))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if strings.HasSuffix(name, ".html") {
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
