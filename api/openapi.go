package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The OpenAPI 3.0 document of /api/v1, served at GET /api/v1/openapi.json. It is built from the
// route table (routes.go) that the router is built from, so the two cannot drift apart; the
// schemas of bodies and answers are derived from the Go types that the handlers encode and
// decode.

// openAPI serves the document.
func (a *API) openAPI(c *call) error { return c.reply(a.doc) }

// apiSchema names the type of a body or an answer. A request schema lists its required fields,
// which call.decode checks; an answer's are all the fields it always has.
type apiSchema struct {
	name     string
	value    any
	request  bool
	required []string
	// fixed are the fields a body may not give (those a PATCH cannot set), with the reason: the
	// schema leaves them out, and call.decode refuses them naming it.
	fixed    map[string]string
	optional bool                // a request that may come without a body
	enums    map[string][]string // this schema's own enums, over fieldEnums
}

// idFixed is why a PATCH cannot set an id.
const idFixed = "an id cannot change"

// webhookStays is why a PATCH cannot move a webhook.
const webhookStays = "a webhook stays with its team or site; delete it and register another"

// apiSchemas lists the schemas of bodies and answers.
var apiSchemas = []apiSchema{
	{name: "Site", value: siteJSON{}},
	{name: "NewSite", value: siteJSON{}, request: true, required: []string{"id", "name"}},
	{name: "SitePatch", value: siteJSON{}, request: true, fixed: map[string]string{"id": idFixed}},
	{name: "SitePage", value: page[siteJSON]{}},
	{name: "Team", value: teamJSON{}},
	{name: "NewTeam", value: teamJSON{}, request: true, required: []string{"id", "site", "name"}},
	{name: "TeamPatch", value: teamJSON{}, request: true, fixed: map[string]string{"id": idFixed}},
	{name: "TeamPage", value: page[teamJSON]{}},
	{name: "Patient", value: patientJSON{}},
	{name: "NewPatient", value: patientJSON{}, request: true, required: []string{"id", "team"}},
	{name: "PatientPatch", value: patientJSON{}, request: true, fixed: map[string]string{"id": idFixed,
		"team": "move a patient to another team with POST /api/v1/patients/{id}/transfer"}},
	{name: "PatientPage", value: page[patientJSON]{}},
	{name: "TransferRequest", value: transferRequest{}, request: true, required: []string{"team", "device_policy"}},
	{name: "Transfer", value: transferJSON{}},
	{name: "TransferList", value: page[transferJSON]{}},
	{name: "Device", value: deviceJSON{}},
	{name: "NewDevice", value: deviceJSON{}, request: true, required: []string{"id", "kind", "site", "mode"}},
	{name: "DevicePatch", value: deviceJSON{}, request: true, fixed: map[string]string{"id": idFixed,
		"secret": "rotate it with POST /api/v1/devices/{id}/secret"}},
	{name: "CreatedDevice", value: newDeviceJSON{}},
	{name: "DeviceListItem", value: deviceItemJSON{}},
	{name: "DevicePage", value: page[deviceItemJSON]{}},
	{name: "DeviceStatus", value: deviceStatusJSON{}, enums: map[string][]string{"event": statusEventNames()}},
	{name: "SiteFleet", value: fleetJSON{}},
	{name: "DeviceSecret", value: deviceSecretJSON{}},
	{name: "AssignRequest", value: assignRequest{}, request: true, required: []string{"patient"}},
	{name: "ReturnRequest", value: returnRequest{}, request: true, optional: true},
	{name: "Assignment", value: assignmentJSON{}},
	{name: "AssignmentList", value: page[assignmentJSON]{}},
	{name: "ImportRowError", value: rowErrorJSON{}},
	{name: "ImportReport", value: importReport{}},
	{name: "AuditEntry", value: auditJSON{}},
	{name: "AuditPage", value: page[auditJSON]{}},
	{name: "DeadLetter", value: deadLetterJSON{}},
	{name: "DeadLetterPage", value: deadLetterPage{}},
	{name: "Alternatives", value: alternativesJSON{}},
	{name: "Utilisation", value: utilisationJSON{}},
	{name: "UtilisationDays", value: utilisationDaysJSON{}},
	{name: "AssessmentPage", value: assessmentPage{}},
	{name: "Plan", value: planJSON{}},
	{name: "Repairs", value: repairsJSON{}, enums: map[string][]string{"started_by": startedByNames()}},
	{name: "DeviceRepairs", value: deviceRepairsJSON{}, enums: map[string][]string{"started_by": startedByNames()}},
	{name: "Move", value: moveJSON{}},
	{name: "MovePage", value: page[moveJSON]{}},
	{name: "MoveRequest", value: moveRequest{}, request: true, required: []string{"kind", "from", "to", "devices"}},
	{name: "MoveNote", value: moveNoteRequest{}, request: true, optional: true},
	{name: "Alert", value: alertJSON{}, enums: alertEnums()},
	{name: "AlertPage", value: page[alertJSON]{}},
	{name: "AlertDetail", value: alertDetailJSON{}, enums: alertEnums()},
	{name: "AlertEvent", value: alertEventJSON{}, enums: alertEnums()},
	{name: "AlertNote", value: alertNoteRequest{}, request: true, optional: true},
	{name: "AlertBurden", value: burdenPage{}, enums: alertEnums()},
	{name: "Overrides", value: overridesJSON{}},
	{name: "OverridesRequest", value: overridesRequest{}, request: true, required: []string{"overrides"}},
	{name: "Silence", value: silenceJSON{}},
	{name: "SilenceRequest", value: silenceRequest{}, request: true, required: []string{"subject", "until", "reason"}},
	{name: "Snooze", value: snoozeRequest{}, request: true, required: []string{"reason"}},
	{name: "SilencePage", value: silencePage{}},
	{name: "Webhook", value: webhookJSON{}, enums: webhookEnums()},
	{name: "CreatedWebhook", value: createdWebhookJSON{}, enums: webhookEnums()},
	{name: "WebhookPage", value: page[webhookJSON]{}},
	{name: "NewWebhook", value: webhookRequest{}, request: true, required: []string{"url"}, enums: webhookEnums()},
	{name: "WebhookPatch", value: webhookRequest{}, request: true, fixed: map[string]string{"team": webhookStays, "site": webhookStays},
		enums: webhookEnums()},
	{name: "Delivery", value: deliveryJSON{}, enums: webhookEnums()},
	{name: "DeliveryPage", value: page[deliveryJSON]{}},
	{name: "User", value: userJSON{}},
	{name: "UserPage", value: page[userJSON]{}},
	{name: "NewUser", value: userBody{}, request: true, required: []string{"username", "role"}},
	{name: "UserPatch", value: userBody{}, request: true},
	{name: "Login", value: loginJSON{}, request: true, required: []string{"username", "password"}},
	{name: "Token", value: tokenJSON{}},
	{name: "TokenList", value: page[tokenJSON]{}},
	{name: "NewToken", value: tokenBody{}, request: true, required: []string{"name"}},
	{name: "ReadingSeries", value: readingSeriesJSON{}},
	{name: "PatientSummary", value: summaryJSON{}},
	{name: "PatientThresholds", value: patientThresholdsJSON{}, enums: map[string][]string{"kind": {"number", "duration", "count", "hour"}}},
	{name: "PatientDevices", value: page[patientDeviceJSON]{}},
	{name: "Error", value: errorBody{}},
}

// schemaNamed returns the schema of apiSchemas named name.
func schemaNamed(name string) (apiSchema, bool) {
	for _, s := range apiSchemas {
		if s.name == name {
			return s, true
		}
	}
	return apiSchema{}, false
}

// alertEnums are the enums of the alert schemas, whose state and type are not those of moves
// and devices.
func alertEnums() map[string][]string {
	return map[string][]string{"state": alertStateNames(), "category": {string(alerts.Clinical), string(alerts.Fault)},
		"severity": alertSeverityNames(), "notified_severity": alertSeverityNames(), "type": alertEventTypeNames(),
		"evidence_source": {evidenceInfluxDB, evidenceRecorded}}
}

// webhookEnums are the enums of the webhook and delivery schemas.
func webhookEnums() map[string][]string {
	return map[string][]string{"min_severity": alertSeverityNames(), "state": deliveryStateNames(), "event_type": alertEventTypeNames()}
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error errorJSON `json:"error"`
}

// queryParameters describes every query parameter an operation may list, by key.
func queryParameters() map[string]map[string]any {
	param := func(name, desc string, schema map[string]any) map[string]any {
		return map[string]any{"name": name, "in": "query", "description": desc, "schema": schema}
	}
	str := func() map[string]any { return map[string]any{"type": "string"} }
	enum := func(values ...string) map[string]any { return map[string]any{"type": "string", "enum": values} }
	cursor := func() map[string]any { return map[string]any{"type": "integer", "minimum": 1} }
	when := func() map[string]any { return map[string]any{"type": "string", "format": "date-time"} }
	reasons := []string{deadletter.ReasonWriteRejected}
	for _, r := range reading.Reasons {
		reasons = append(reasons, string(r))
	}
	return map[string]map[string]any{
		"role":  param("role", "Only users of this role.", enum(string(access.Admin), string(access.Doctor), string(access.FleetManager))),
		"after": param("after", "Cursor: the next of the previous page; only rows whose id sorts after it (byte by byte).", str()),
		"limit": param("limit", "Page size.", map[string]any{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
		"site":  param("site", "Only those of this site.", str()),
		"team":  param("team", "Only those of this team.", str()),
		"kind":  param("kind", "Only devices of this kind.", enum(kindNames()...)),
		"status": param("status", "Only devices with this status.",
			enum(statusNames()...)),
		"mode": param("mode", "Only devices in this mode.", enum(string(devices.Home), string(devices.StationMode))),
		"device_state": param("state", "Only devices in this live state (see GET /devices/{id}/status); the registry is read on until the page is full.",
			enum(stateNames()...)),
		"atomic":       param("atomic", "true: store nothing unless every row can be stored.", map[string]any{"type": "boolean", "default": false}),
		"subject":      param("subject", "Only changes to this subject, <entity>/<id>, e.g. device/cuff-0042.", str()),
		"actor":        param("actor", "Only changes by this actor, e.g. user:alice.", str()),
		"action":       param("action", "Only this action, <entity>.<verb>, e.g. patient.transfer.", str()),
		"audit_before": param("before", "Cursor: the next of the previous page; only entries with a smaller id.", cursor()),
		"audit_since":  param("since", "Only changes made at or after this time.", when()),
		"audit_until":  param("until", "Only changes made before this time.", when()),
		"device":       param("device", "Only those of this device.", str()),
		"reason":       param("reason", "Only those with this reason.", enum(reasons...)),
		"since":        param("since", "Received at or after this time.", when()),
		"until":        param("until", "Received before this time.", when()),
		"type":         param("type", "Only this device type.", enum(kindNames()...)),
		"from":         param("from", "First month, YYYY-MM (default: the last complete month, or to).", map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`}),
		"to":           param("to", "Last month, YYYY-MM (default: the last complete month).", map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`}),
		"by":           param("by", "One row per device, per type at a site, per site, or per district and type.", enum("device", "type", "site", "district")),
		"format":       param("format", "json (default) or csv.", enum("json", "csv")),
		"month":        param("month", "The month, YYYY-MM (default: the last complete month).", map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`}),
		"verdict":      param("verdict", "Only those with this verdict.", enum(verdicts...)),
		"basis": param("basis", "The demand to plan on: history, last month's use (the default), or forecast, the forecast of the month after the current one.",
			enum(string(fleet.BasisHistory), string(fleet.BasisForecast))),
		"move_state":        param("state", "Only moves in this state.", enum(moveStateNames()...)),
		"move_site":         param("site", "Only moves from or to this site.", str()),
		"move_device":       param("device", "Only moves of this device.", str()),
		"move_before":       param("before", "Cursor: the next of the previous page; only moves with a smaller id.", cursor()),
		"deadletter_before": param("before", "Cursor: the next of the previous page; only dead letters with a smaller id.", cursor()),
		"alert_state":       param("state", "Only alerts in this state.", enum(alertStateNames()...)),
		"severity":          param("severity", "Only alerts of this severity or higher.", enum(alertSeverityNames()...)),
		"rule":              param("rule", "Only alerts of this rule.", str()),
		"category":          param("category", "Only clinical alerts or only device faults.", enum(string(alerts.Clinical), string(alerts.Fault))),
		"alert_patient":     param("patient", "Only alerts about this patient.", str()),
		"alert_device":      param("device", "Only alerts about this device, or raised by its readings.", str()),
		"alert_team":        param("team", "Only clinical alerts routed to this team (one of a doctor's own).", str()),
		"alert_site":        param("site", "Only alerts routed to this site (one of a fleet manager's own).", str()),
		"alert_since":       param("since", "Last seen (measurement time) at or after this time.", when()),
		"alert_until":       param("until", "Last seen (measurement time) before this time.", when()),
		"alert_before":      param("before", "Cursor: the next of the previous page; only alerts with a smaller id.", cursor()),
		"burden_from": param("from", "Start of the period, inclusive: an RFC 3339 time, or a date YYYY-MM-DD (UTC) for its start. Default: 28 days before to.",
			map[string]any{"type": "string"}),
		"burden_to": param("to", "End of the period, exclusive: an RFC 3339 time, or a date YYYY-MM-DD (UTC) for the end of that day. Default: now. At most 366 days after from.",
			map[string]any{"type": "string"}),
		"burden_team":     param("team", "Only the clinical alerts of this team (one of a doctor's own); with site, those and the site's faults.", str()),
		"burden_site":     param("site", "Only the device faults of this site (one of a fleet manager's own); with team, those and the team's clinical alerts.", str()),
		"webhook_after":   param("after", "Cursor: the next of the previous page; only webhooks with a larger id.", cursor()),
		"delivery_before": param("before", "Cursor: the next of the previous page; only deliveries with a smaller id.", cursor()),
		"silence_subject": param("subject", "Only silences of this subject, patient/<id> or device/<id>.", str()),
		"silence_active":  param("active", "true: only silences that have not ended.", map[string]any{"type": "boolean", "default": false}),
		"reading_type":    requiredParam(param("type", "The reading type.", enum(readingTypeNames()...))),
		"reading_from":    param("from", "Start, inclusive: an RFC 3339 time. Default: 24 hours before to. At most 366 days before to.", when()),
		"reading_to":      param("to", "End, exclusive: an RFC 3339 time. Default: now.", when()),
		"every":           param("every", "Downsample into windows of this width, a duration in whole seconds such as 15m or 1h, at most 2000 windows in the range. Default: as stored, or windows of whole minutes when the range holds more than 2000 readings.", str()),
		"summary_from":    param("from", "Read the readings measured from this RFC 3339 time. Default: the start of the longest window the summary needs (31 local days through to, or the glucose period when longer).", when()),
		"summary_to":      param("to", "The time the summary is as of, an RFC 3339 time. Default: now.", when()),
		"glucose_days":    param("days", "The period of the CGM and meter reports, in whole local days before today's. Default: 14, the period of an AGP report.", map[string]any{"type": "integer", "minimum": 1, "maximum": 90, "default": 14}),
		"glucose_source":  param("source", "Of glucose only: cgm, the CGM's readings (source cgm, or measured by a CGM), or meter, every other glucose reading.", enum("cgm", "meter")),
		"glucose_unit":    param("glucose_unit", "mg/dL adds the glucose fields in mg/dL (the _mgdl fields) to those in mmol/L.", enum("mmol/L", glucoseUnitMgdL)),
		"silence_before":  param("before", "Cursor: the next of the previous page; only silences with a smaller id.", cursor()),
	}
}

func kindNames() []string {
	var out []string
	for _, k := range devices.Kinds {
		out = append(out, string(k))
	}
	return out
}

// fieldEnums are the values of fields that take one of a few, by JSON name.
var fieldEnums = map[string][]string{
	"mode":          {string(devices.Home), string(devices.StationMode)},
	"status":        statusNames(),
	"device_policy": {devices.PolicyTravel, devices.PolicyReturn},
	"state":         moveStateNames(),
	"verdict":       verdicts,
	"role":          {string(access.Admin), string(access.Doctor), string(access.FleetManager)},
	"code":          {errcode.Invalid, errcode.Unauthorized, errcode.Forbidden, errcode.NotFound, errcode.Conflict, CodeUnsupportedMediaType, errcode.Unavailable, errcode.Internal},
}

var pathParam = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

// openAPIDocument builds the document of routes, whose query parameters params describes by key.
func openAPIDocument(routes []route, params map[string]map[string]any) map[string]any {
	schemas := map[string]any{}
	names := map[reflect.Type]string{} // answer types, referred to by $ref where they nest
	for _, s := range apiSchemas {
		if t := reflect.TypeOf(s.value); !s.request {
			if _, ok := names[t]; !ok {
				names[t] = s.name
			}
		}
	}
	enums := map[string][]string{"kind": kindNames()}
	for k, v := range fieldEnums {
		enums[k] = v
	}
	for _, s := range apiSchemas {
		own := enums
		if s.enums != nil {
			own = maps.Clone(enums)
			maps.Copy(own, s.enums)
		}
		schemas[s.name] = objectSchema(reflect.TypeOf(s.value), names, own, s.request, s.required, s.fixed)
	}
	schemas["OpenAPIDocument"] = map[string]any{"type": "object", "description": "An OpenAPI 3.0 document."}

	errorAnswer := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	paths := map[string]map[string]any{}
	for _, op := range routes {
		var ps []any
		for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
			ps = append(ps, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			ps = append(ps, params[q])
		}
		success := map[string]any{"description": "Success."}
		if op.answer == "sse" {
			success["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string",
				"description": "Server-Sent Events: lines id:, event: and data: (JSON), a blank line after each event; comment lines start with a colon."}}}
		} else if op.answer != "" {
			success["content"] = map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + op.answer}}}
		}
		answers := map[string]any{
			strconv.Itoa(op.status): success,
			"400":                   errorAnswer("Bad request: an unknown parameter or field, a value of the wrong type or out of range; the message names it."),
			"401":                   errorAnswer("No or wrong credentials."),
			"403":                   errorAnswer("The caller's role or scope does not allow it."),
		}
		if strings.Contains(op.path, "{") {
			answers["404"] = errorAnswer("No such id.")
		}
		if op.method != "GET" {
			answers["409"] = errorAnswer("Conflicts with what exists, e.g. an id that is taken.")
		}
		if op.body != "" && op.body != "csv" {
			answers["415"] = errorAnswer("A body without Content-Type application/json (UTF-8).")
		}
		o := map[string]any{"operationId": op.id, "summary": op.summary, "description": "Access: " + op.gate.doc, "responses": answers}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		if op.gate.public {
			o["security"] = []any{}
		}
		switch op.body {
		case "":
		case "csv":
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{
				"schema": map[string]any{"type": "string", "description": "A CSV file whose first line names its columns."}}}}
		default:
			body, _ := schemaNamed(op.body)
			o["requestBody"] = map[string]any{"required": !body.optional, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + op.body}}}}
		}
		if paths[op.path] == nil {
			paths[op.path] = map[string]any{}
		}
		paths[op.path][strings.ToLower(op.method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "VitalWatch API", "version": "1",
			"description": "The registry of sites, teams, patients and devices, the audit log and dead letters. " +
				"Every request acts as a principal whose role decides what it may do: a role with no business with a kind of resource gets 403 whatever the id; " +
				"an id that does not exist gets 404; one outside the caller's teams or sites gets 403. " +
				"Lists answer {items, next}: pass next as after= (as before= for the audit log, dead letters, moves and alerts) for the following page. " +
				"Errors answer {error: {code, message}}."},
		"servers":    []any{map[string]any{"url": "/api/v1"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
}

// objectSchema is the schema of struct type t, without the fields of fixed. A request lists
// required; an answer requires every field that it always has.
func objectSchema(t reflect.Type, names map[reflect.Type]string, enums map[string][]string, request bool, required []string,
	fixed map[string]string) map[string]any {
	props := map[string]any{}
	var req []string
	for _, f := range jsonFields(t) {
		if _, ok := fixed[f.name]; ok {
			continue
		}
		s := typeSchema(f.typ, names, enums)
		if e, ok := enums[f.name]; ok && s["type"] == "string" {
			s["enum"] = e
		}
		if _, ref := s["$ref"]; request && !ref {
			s["nullable"] = true // decodeBody takes null as the field's zero value: a PATCH clears it
		}
		props[f.name] = s
		if !request && !f.optional {
			req = append(req, f.name)
		}
	}
	if request {
		req = required
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(req) > 0 {
		s["required"] = req
	}
	return s
}

// typeSchema is the schema of a field of type t: a $ref for a named answer type.
func typeSchema(t reflect.Type, names map[reflect.Type]string, enums map[string][]string) map[string]any {
	if name, ok := names[t]; ok {
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), names, enums)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), names, enums)}
	case reflect.Pointer:
		s := typeSchema(t.Elem(), names, enums)
		s["nullable"] = true
		return s
	case reflect.Struct:
		return objectSchema(t, names, enums, false, nil, nil)
	}
	return map[string]any{}
}

// statusNames lists the device statuses.
func statusNames() []string {
	out := make([]string, len(devices.Statuses))
	for i, s := range devices.Statuses {
		out[i] = string(s)
	}
	return out
}

// requiredParam marks the query parameter p as one the route cannot do without (a 400 naming it).
func requiredParam(p map[string]any) map[string]any {
	p["required"] = true
	return p
}

func readingTypeNames() []string {
	var out []string
	for _, t := range reading.Types {
		out = append(out, string(t))
	}
	return out
}
