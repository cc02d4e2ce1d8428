package app

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestFHIRBesideTheAPI: serve's handler sends /fhir/r4 and below to the FHIR API and everything
// else where it went before.
func TestFHIRBesideTheAPI(t *testing.T) {
	var reached string
	record := func(who string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = who
			w.WriteHeader(http.StatusNoContent)
		})
	}
	h := httpHandler(withFHIR(record("api"), record("fhir")), record("web"))
	for path, want := range map[string]string{
		"/fhir/r4":                         "fhir",
		"/fhir/r4/metadata":                "fhir",
		"/fhir/r4/Patient/P-1/$everything": "fhir",
		"/fhir/r5/metadata":                "api",
		"/fhir/r4x":                        "api",
		"/api/v1/me":                       "api",
		"/metrics":                         "api",
		"/app/inbox":                       "web",
	} {
		reached = ""
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://vitalwatch.test"+path, nil))
		if reached != want {
			t.Errorf("GET %s reached %q; want %q", path, reached, want)
		}
	}
}
