package app

import (
	"net/http"

	"github.com/vitalwatch/vitalwatch/fhir"
	"github.com/vitalwatch/vitalwatch/web"
)

// httpHandler is what serve answers over HTTP: the web app at /, /app/... and /static/..., the
// rest (/api/..., /metrics, /healthz, /readyz) by the API. The whole of it is behind
// http.CrossOriginProtection: a state-changing request (POST, PUT, PATCH, DELETE) that a browser
// says comes from another origin (Sec-Fetch-Site, or else Origin against Host) is refused with
// 403, whatever cookie it carries; a request without those headers, as integrations send with
// their API tokens, is not a browser's and passes.
func httpHandler(apiHandler, webHandler http.Handler) http.Handler {
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if webHandler != nil && web.Owns(r.URL.Path) {
			webHandler.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"cross-origin request refused: a browser may change things only from VitalWatch's own pages"}}` + "\n"))
	}))
	return cop.Handler(mux)
}

// withFHIR serves the read-only FHIR API's paths (/fhir/r4 and below) by fhirHandler, and the
// rest by next: serve passes httpHandler the API with the FHIR API beside it.
func withFHIR(next, fhirHandler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fhir.Owns(r.URL.Path) {
			fhirHandler.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
