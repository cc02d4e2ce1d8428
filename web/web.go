// Package web serves the VitalWatch web app: an HTML shell, the app's own ES modules and style
// sheet, and the browser libraries vendored from npm (static/vendor, copied there by make web),
// all embedded in the binary. The pages are rendered in the browser from the JSON API under
// /api/v1, which checks access on every request; this package reads no data of its own.
//
// Every answer carries a Content-Security-Policy that allows nothing from outside the origin and
// no inline script, and the shell passes what the app needs to start (the language, its
// messages, which libraries are present) as a JSON block that the app reads, never runs.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Files holds the shell template, the message catalogues and the static files. static/vendor
// always holds its README, so the pattern matches without npm having run; the libraries it
// lists are there only after make web.
//
//go:embed templates/shell.html i18n all:static
var files embed.FS

// CSP is the Content-Security-Policy of every answer of the web app: nothing from outside the
// origin, no inline script or style, no plugins, no framing, forms only to the origin.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Libraries the app uses, by name, and the file whose presence means make web copied them.
var libraries = map[string]string{
	"lit-html": "static/vendor/lit-html/lit-html.js",
	"uplot":    "static/vendor/uplot/uPlot.esm.js",
	"leaflet":  "static/vendor/leaflet/leaflet-src.esm.js",
}

// Options are the web app's settings.
type Options struct {
	// EscalateAfter is the response target of a team without its own ack_within
	// (alerts.escalate_after): the inbox counts down to it.
	EscalateAfter time.Duration
	// Version names the build, shown in the page's footer data.
	Version string
	// Districts is the path of a GeoJSON FeatureCollection of district outlines that the map
	// page draws (web.districts_geojson); empty: none. It is read once, by New.
	Districts string
	Log       *slog.Logger
}

// Handler serves the web app: the shell at / and under /app/, and the static files under
// /static/.
type Handler struct {
	opts     Options
	shell    *template.Template
	catalog  catalogues
	static   fs.FS
	etags    map[string]string // by path under static/
	present  map[string]bool   // libraries present, by name
	shellTag string
	// districts is the GeoJSON of Options.Districts, served at DistrictsPath; nil without one.
	districts []byte
}

// New returns the web app's handler.
func New(opts Options) (*Handler, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cat, err := loadCatalogues(files)
	if err != nil {
		return nil, err
	}
	shell, err := template.ParseFS(files, "templates/shell.html")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, shell: shell, catalog: cat, static: static, etags: map[string]string{}, present: map[string]bool{}}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name, file := range libraries {
		_, err := fs.Stat(files, file)
		h.present[name] = err == nil
	}
	if opts.Districts != "" {
		if h.districts, err = readDistricts(opts.Districts); err != nil {
			return nil, err
		}
	}
	if !h.present["lit-html"] {
		opts.Log.Warn("the web app's libraries are missing from this build: run make web before go build", "missing", "static/vendor")
	}
	return h, nil
}

// Owns reports whether the web app serves path: /, /app and below, /static/ and below, and
// DistrictsPath. The rest (/api/..., /metrics, /healthz, /readyz) is the API's.
func Owns(p string) bool {
	return p == "/" || p == "/app" || strings.HasPrefix(p, "/app/") || strings.HasPrefix(p, "/static/") || p == DistrictsPath
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/" || p == "/app":
		http.Redirect(w, r, "/app/", http.StatusSeeOther)
	case strings.HasPrefix(p, "/app/"):
		h.serveShell(w, r)
	case strings.HasPrefix(p, "/static/"):
		h.serveStatic(w, r, strings.TrimPrefix(p, "/static/"))
	case p == DistrictsPath && h.districts != nil:
		h.serveDistricts(w, r)
	default:
		http.NotFound(w, r)
	}
}

// boot is what the shell hands the app, as JSON in <script type="application/json" id="vw-boot">.
type boot struct {
	Lang          string            `json:"lang"`
	Languages     []language        `json:"languages"`
	Messages      map[string]string `json:"messages"`
	Libraries     map[string]bool   `json:"libraries"`
	EscalateAfter int               `json:"escalate_after_seconds"`
	Version       string            `json:"version"`
	// Districts is DistrictsPath when the deployment has district outlines, else empty.
	Districts string `json:"districts,omitempty"`
}

// language is one the app speaks: its code and its own name.
type language struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// serveShell answers the HTML shell of every page: the router in the browser reads the path.
func (h *Handler) serveShell(w http.ResponseWriter, r *http.Request) {
	lang := chooseLanguage(r)
	msgs := h.catalog[lang]
	var langs []language
	for _, l := range languages {
		langs = append(langs, language{Code: l, Name: h.catalog[l]["language.name"]})
	}
	data := struct {
		Lang, Title, Skip, Loading, NoScript, NoLibraries string
		MissingLibraries                                  bool
		Boot                                              boot
	}{
		Lang: lang, Title: msgs["app.name"], Skip: msgs["app.skip_to_content"], Loading: msgs["app.loading"],
		NoScript: msgs["app.noscript"], NoLibraries: msgs["app.no_libraries"], MissingLibraries: !h.present["lit-html"],
		Boot: boot{Lang: lang, Languages: langs, Messages: msgs, Libraries: h.present,
			EscalateAfter: int(h.opts.EscalateAfter / time.Second), Version: h.opts.Version, Districts: h.districtsPath()},
	}
	var buf bytes.Buffer
	if err := h.shell.Execute(&buf, data); err != nil {
		h.opts.Log.Error("web shell", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Vary", "Accept-Language, Cookie")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// serveStatic answers a file under static/, revalidated by its ETag on every use (Cache-Control:
// no-cache), so that a new build is picked up at once and an unchanged file costs a 304.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request, p string) {
	p = path.Clean(p)
	tag, ok := h.etags[p]
	if !ok || strings.HasSuffix(p, "README") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.static, p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	ct := mime.TypeByExtension(path.Ext(p))
	switch path.Ext(p) {
	case ".js", ".mjs":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".json":
		ct = "application/json"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	hd.Set("Content-Type", ct)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", tag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
