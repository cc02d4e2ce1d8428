package api

import (
	"net/http"
)

// inForce makes a change made through the API take effect on this instance before the client
// hears that it succeeded: when a request that may change state is about to answer with a
// success, the registry view that the broker, ingest and the alert rules consult is brought up
// to date first. A device lent with POST /devices/{id}/assign is then measured for its patient
// from the next message on, and a new device's secret opens the embedded broker at once.
func (a *API) inForce(next http.Handler) http.Handler {
	if a.opts.RegistryChanged == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&inForceWriter{ResponseWriter: w, a: a, r: r}, r)
	})
}

// inForceWriter holds back the status line of a successful answer until the change is in
// force.
type inForceWriter struct {
	http.ResponseWriter
	a       *API
	r       *http.Request
	written bool
}

func (w *inForceWriter) WriteHeader(code int) {
	if w.written {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.written = true
	if code < http.StatusBadRequest {
		if err := w.a.opts.RegistryChanged(w.r.Context()); err != nil {
			// The change is stored; the periodic refresh will bring it into force. Say so
			// rather than fail a request whose effect has already happened.
			w.a.log.Warn("change stored but not yet in force on this instance; the next registry refresh applies it",
				"method", w.r.Method, "route", routePattern(w.r), "err", err)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *inForceWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *inForceWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
