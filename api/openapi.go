package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The OpenAPI 3.0 document of /api/v1, served at GET /api/v1/openapi.json. The operations are
// listed here by hand; the schemas of bodies and answers are derived from the Go types that the
// handlers encode and decode, so they cannot drift apart. A test walks the router and checks
// that the document lists every route and no other.

// openAPI serves the document.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, openAPIDocument())
}

// apiOperation is one route of the document.
type apiOperation struct {
	method, path string // path below /api/v1, with {id} parameters
	id           string // operationId
	summary      string
	access       string   // who may call it
	query        []string // query parameters, from queryParameters
	body         string   // schema of the JSON body, "csv" for a CSV file, "" for none
	bodyOptional bool
	status       int    // of success
	answer       string // schema of the answer on success; "" for none (204); "sse" for an event stream
	public       bool   // needs no credentials
}

// apiOperations lists every operation of /api/v1.
func apiOperations() []apiOperation {
	const (
		anyone    = "Every role."
		adminOnly = "Admins only."
		doctors   = "Doctors, for the patients of their own teams (403 for a patient of another team); admins."
		fleet     = "Fleet managers, for the devices at their own sites (403 for a device at another site); admins."
		// alertAccess is who may see and act on alerts.
		alertAccess = "Doctors, for the clinical alerts of their own teams; fleet managers, for the device faults of their own sites (403 for any other alert); admins."
		// webhookAccess is who may manage webhooks.
		webhookAccess = "Doctors, for the webhooks of their own teams; fleet managers, for those of their own sites (403 for any other); admins."
		// overrideAccess is who may see and change a team's overrides.
		overrideAccess = "Doctors of the team (403 for another team); admins."
		// silenceAccess is who may see, create and delete silences.
		silenceAccess = "Doctors, for the patients of their own teams; fleet managers, for the devices at their own sites (403 for any other subject); admins."
	)
	list := []string{"after", "limit"}
	return []apiOperation{
		{"GET", "/sites", "listSites", "List sites by id", anyone, list, "", false, 200, "SitePage", false},
		{"POST", "/sites", "createSite", "Create a site", adminOnly, nil, "NewSite", false, 201, "Site", false},
		{"POST", "/sites/import", "importSites", "Import sites from a CSV file (id, name, district, address, lat, lon, time_zone, opening_hours)",
			adminOnly, []string{"atomic"}, "csv", false, 200, "ImportReport", false},
		{"GET", "/sites/{id}", "getSite", "Get a site", anyone, nil, "", false, 200, "Site", false},
		{"PATCH", "/sites/{id}", "updateSite", "Change the fields given", adminOnly, nil, "SitePatch", false, 200, "Site", false},

		{"GET", "/teams", "listTeams", "List teams by id", anyone, append([]string{"site"}, list...), "", false, 200, "TeamPage", false},
		{"POST", "/teams", "createTeam", "Create a team", adminOnly, nil, "NewTeam", false, 201, "Team", false},
		{"POST", "/teams/import", "importTeams", "Import teams from a CSV file (id, site, name)",
			adminOnly, []string{"atomic"}, "csv", false, 200, "ImportReport", false},
		{"GET", "/teams/{id}", "getTeam", "Get a team", anyone, nil, "", false, 200, "Team", false},
		{"PATCH", "/teams/{id}", "updateTeam", "Change the fields given", adminOnly, nil, "TeamPatch", false, 200, "Team", false},

		{"GET", "/patients", "listPatients", "List patients by id; a doctor's list holds the patients of their teams",
			doctors, append([]string{"team", "site"}, list...), "", false, 200, "PatientPage", false},
		{"POST", "/patients", "createPatient", "Create a patient", doctors, nil, "NewPatient", false, 201, "Patient", false},
		{"POST", "/patients/import", "importPatients", "Import patients from a CSV file (id, team, plans separated by ;, birth_year); a row of another team is refused as forbidden",
			doctors, []string{"atomic"}, "csv", false, 200, "ImportReport", false},
		{"GET", "/patients/{id}", "getPatient", "Get a patient", doctors, nil, "", false, 200, "Patient", false},
		{"PATCH", "/patients/{id}", "updatePatient", "Change the fields given: the care plans, the birth year (only the year; 0 or null: unknown; 400 naming birth_year unless 1900 to the current year); the team changes only by a transfer",
			doctors, nil, "PatientPatch", false, 200, "Patient", false},
		{"POST", "/patients/{id}/transfer", "transferPatient",
			"Move a patient to another team: the id and reading history stay, the plans go along, the home devices lent to the patient travel or are returned, and the old team's access ends",
			doctors + " The patient's current team must be the doctor's; the new one may be any.", nil, "TransferRequest", false, 200, "Transfer", false},
		{"GET", "/patients/{id}/transfers", "listTransfers", "The patient's transfers, oldest first", doctors, nil, "", false, 200, "TransferList", false},

		{"GET", "/devices", "listDevices", "List devices by id; a fleet manager's list holds the devices at their sites",
			fleet, append([]string{"site", "kind", "status", "mode"}, list...), "", false, 200, "DevicePage", false},
		{"POST", "/devices", "createDevice", "Create a device; the answer holds its MQTT secret, shown this once. Its id is 1-64 characters of A-Z a-z 0-9 . _ - (no : , which no broker password file can hold) and does not start with vitalwatch-, which the platform reserves for its own MQTT users",
			fleet, nil, "NewDevice", false, 201, "CreatedDevice", false},
		{"POST", "/devices/import", "importDevices",
			"Import devices from a CSV file (id, kind, site, mode, model, serial, firmware, status, rated_uses_per_day, next_calibration, secret); a device without a secret gets one, in the answer once; a row at another site is refused as forbidden",
			fleet, []string{"atomic"}, "csv", false, 200, "ImportReport", false},
		{"GET", "/devices/{id}", "getDevice", "Get a device", fleet, nil, "", false, 200, "Device", false},
		{"PATCH", "/devices/{id}", "updateDevice", "Change the fields given; a fleet manager moves devices only between their own sites",
			fleet, nil, "DevicePatch", false, 200, "Device", false},
		{"POST", "/devices/{id}/secret", "rotateDeviceSecret", "Give the device a new MQTT secret, shown this once; the old one stops working",
			fleet, nil, "", false, 200, "DeviceSecret", false},
		{"POST", "/devices/{id}/assign", "assignDevice", "Lend a home device to a patient (any patient: a fleet manager need not see them); a current loan ends when this one starts",
			fleet, nil, "AssignRequest", false, 200, "Assignment", false},
		{"POST", "/devices/{id}/return", "returnDevice", "End the device's loan", fleet, nil, "ReturnRequest", true, 200, "Assignment", false},
		{"GET", "/devices/{id}/assignments", "listAssignments", "The device's loans, oldest first", fleet, nil, "", false, 200, "AssignmentList", false},

		{"GET", "/devices/{id}/alternatives", "deviceAlternatives",
			"Where the residents booked on this device can go instead: the other centres with a working device of its type and spare daily capacity last month, nearest first",
			fleet, nil, "", false, 200, "Alternatives", false},

		{"GET", "/utilisation", "utilisation",
			"Utilisation per month of each device, or rolled up per type at a site, per site or per district and type; as CSV with format=csv or Accept: text/csv",
			fleet + " Without site, a fleet manager's figures cover their sites.", []string{"site", "type", "from", "to", "by", "format"}, "", false, 200, "Utilisation", false},
		{"GET", "/reallocation/assessment", "reallocationAssessment",
			"Which device types at which centres are spare, short or balanced over the last complete months",
			fleet + " Without site, a fleet manager's list covers their sites.", []string{"site", "type", "verdict"}, "", false, 200, "AssessmentPage", false},
		{"GET", "/reallocation/plan", "reallocationPlan",
			"The moves of spare devices to short centres that meet the most shortage at the least distance, each explained",
			fleet + " A fleet manager sees the moves from or to their sites.", []string{"type"}, "", false, 200, "Plan", false},

		{"GET", "/moves", "listMoves", "Moves of devices between sites, newest first; a fleet manager's list holds the moves from or to their sites",
			"Fleet managers; admins.", []string{"move_state", "move_site", "move_device", "move_before", "limit"}, "", false, 200, "MovePage", false},
		{"POST", "/moves", "proposeMove",
			"Propose a move of devices of one kind from one site to another; each must be at the donor site, active, not lent to a patient and in no other open move",
			"Fleet managers of the donor or the receiving site; admins.", nil, "MoveRequest", false, 201, "Move", false},
		{"GET", "/moves/{id}", "getMove", "Get a move with its chain of custody",
			"Fleet managers of its donor or receiving site; admins.", nil, "", false, 200, "Move", false},
		{"POST", "/moves/{id}/approve", "approveMove", "Approve a proposed move; its devices are checked again",
			"Fleet managers of the donor site; admins.", nil, "MoveNote", true, 200, "Move", false},
		{"POST", "/moves/{id}/reject", "rejectMove", "Reject a proposed move, which frees its devices",
			"Fleet managers of the donor site; admins.", nil, "MoveNote", true, 200, "Move", false},
		{"POST", "/moves/{id}/dispatch", "dispatchMove",
			"Send an approved move's devices on their way, after checking them again: each is in transit (out of service, not expected to report) at the donor site until received",
			"Fleet managers of the donor site; admins.", nil, "", false, 200, "Move", false},
		{"POST", "/moves/{id}/receive", "receiveMove", "Confirm that a dispatched move's devices arrived: each is active at the receiving site from now",
			"Fleet managers of the receiving site; admins.", nil, "", false, 200, "Move", false},
		{"POST", "/moves/{id}/cancel", "cancelMove", "Call off a proposed or approved move, which frees its devices",
			"Whoever proposed it, fleet managers of the donor site; admins.", nil, "MoveNote", true, 200, "Move", false},

		{"GET", "/alerts", "listAlerts", "Alerts, newest first; a doctor's list holds the clinical alerts of their teams, a fleet manager's the device faults of their sites",
			alertAccess, []string{"alert_state", "severity", "rule", "alert_patient", "alert_device", "alert_team", "alert_site", "category",
				"alert_since", "alert_until", "alert_before", "limit"}, "", false, 200, "AlertPage", false},
		{"GET", "/alerts/stream", "alertStream",
			"The live feed of alert events as Server-Sent Events: id is the event id, event its type (raised, updated, severity_raised, acknowledged, resolved, escalated), data the JSON of the alert after the change (an Alert without evidence). " +
				"Send Last-Event-ID to resume: the events after it are replayed first. A comment line comes every 15 s when there is nothing to send.",
			alertAccess + " Each receives the events of the alerts they may see.", nil, "", false, 200, "sse", false},
		{"GET", "/alerts/burden", "alertBurden",
			"The alert burden per team (clinical alerts) or site (device faults) and rule over [from, to), by when the alerts were raised: how many, about how many patients or devices, " +
				"alerts per patient (device) per week of the team's patients (the site's devices), how many were acknowledged and the median time to acknowledge, " +
				"how many resolved automatically or by a person, and how many were late, silenced or in doubt; as CSV with format=csv or Accept: text/csv",
			alertAccess + " Each sees the figures of the alerts they may see.", []string{"burden_from", "burden_to", "burden_team", "burden_site", "rule", "format"},
			"", false, 200, "AlertBurden", false},
		{"GET", "/alerts/{id}", "getAlert",
			"An alert with its history and its evidence: the readings recorded with it (the first 5 and the latest 20) as InfluxDB holds them, each marked with whether InfluxDB still has it, " +
				"and for a patient's alert the patient's other readings of those measurements from first to last seen (the newest 100). " +
				"If InfluxDB cannot be read, the evidence is as recorded, with evidence_source \"recorded\" and a warning",
			alertAccess, nil, "", false, 200, "AlertDetail", false},
		{"POST", "/alerts/{id}/acknowledge", "acknowledgeAlert", "Acknowledge an open alert, with an optional note",
			alertAccess, nil, "AlertNote", true, 200, "Alert", false},
		{"POST", "/alerts/{id}/resolve", "resolveAlert", "Resolve an open or acknowledged alert, with a note (required for a clinical alert)",
			alertAccess, nil, "AlertNote", true, 200, "Alert", false},
		{"POST", "/alerts/{id}/snooze", "snoozeAlert",
			"Snooze an alert: silence its subject (the patient, or the device of a fault) from now until until, or for a duration (for: \"72h\"), with a reason, as POST /silences does; the answer is the silence",
			alertAccess + " Silencing a patient takes a doctor, a device a fleet manager.", nil, "Snooze", false, 201, "Silence", false},

		{"GET", "/teams/{id}/overrides", "getTeamOverrides", "The team's threshold overrides: per rule, per threshold key, a number in the rule's unit or a duration such as \"20m\"",
			overrideAccess, nil, "", false, 200, "Overrides", false},
		{"PUT", "/teams/{id}/overrides", "setTeamOverrides", "Replace the team's threshold overrides, checked against the rules in force (400 naming the rule and key); {} removes them",
			overrideAccess, nil, "OverridesRequest", false, 200, "Overrides", false},
		{"DELETE", "/teams/{id}/overrides", "deleteTeamOverrides", "Remove the team's threshold overrides", overrideAccess, nil, "", false, 204, "", false},
		{"GET", "/patients/{id}/overrides", "getPatientOverrides", "The patient's own threshold overrides, which beat the team's and stay with the patient through a transfer",
			doctors, nil, "", false, 200, "Overrides", false},
		{"PUT", "/patients/{id}/overrides", "setPatientOverrides", "Replace the patient's threshold overrides, checked against the rules in force (400 naming the rule and key); {} removes them",
			doctors, nil, "OverridesRequest", false, 200, "Overrides", false},
		{"DELETE", "/patients/{id}/overrides", "deletePatientOverrides", "Remove the patient's threshold overrides", doctors, nil, "", false, 204, "", false},

		{"GET", "/silences", "listSilences", "Silences of patients and devices, newest first; a doctor's list holds those of their teams' patients, a fleet manager's those of their sites' devices",
			silenceAccess, []string{"silence_subject", "silence_active", "silence_before", "limit"}, "", false, 200, "SilencePage", false},
		{"POST", "/silences", "createSilence", "Silence a patient's or a device's alerts from from (default now) until until, with a reason: they are still recorded, with the reason, and notify nobody",
			silenceAccess, nil, "SilenceRequest", false, 201, "Silence", false},
		{"DELETE", "/silences/{id}", "deleteSilence", "Delete a silence, which ends it", silenceAccess, nil, "", false, 204, "", false},

		{"GET", "/webhooks", "listWebhooks", "Webhooks by id; a doctor's list holds those of their teams, a fleet manager's those of their sites",
			webhookAccess, []string{"team", "site", "webhook_after", "limit"}, "", false, 200, "WebhookPage", false},
		{"POST", "/webhooks", "createWebhook",
			"Register a webhook for a team (its clinical alerts) or a site (its device faults); the answer holds its signing secret, shown this once. " +
				"The URL is http or https without user info; unless the server allows private targets, its host may not be localhost or a loopback, link-local, private, unspecified or multicast address (400 naming url)",
			webhookAccess, nil, "NewWebhook", false, 201, "CreatedWebhook", false},
		{"GET", "/webhooks/{id}", "getWebhook", "Get a webhook, without its secret", webhookAccess, nil, "", false, 200, "Webhook", false},
		{"PATCH", "/webhooks/{id}", "updateWebhook", "Change the URL (as registering checks it), enabled or min_severity; a disabled webhook's queued deliveries wait",
			webhookAccess, nil, "WebhookPatch", false, 200, "Webhook", false},
		{"DELETE", "/webhooks/{id}", "deleteWebhook", "Delete a webhook and its delivery log", webhookAccess, nil, "", false, 204, "", false},
		{"POST", "/webhooks/{id}/rotate-secret", "rotateWebhookSecret",
			"Give the webhook a new signing secret, in the answer this once: every request sent from then on, retries of events queued before included, is signed with it, and the old one no longer verifies",
			webhookAccess, nil, "", false, 200, "CreatedWebhook", false},
		{"GET", "/webhooks/{id}/deliveries", "listWebhookDeliveries",
			"The delivery log, newest first: each event sent, its attempts, the last status or error, the next attempt and when it was delivered",
			webhookAccess, []string{"delivery_before", "limit"}, "", false, 200, "DeliveryPage", false},

		{"GET", "/audit", "listAudit", "The audit log of registry changes, newest first", adminOnly,
			[]string{"subject", "actor", "action", "audit_before", "limit"}, "", false, 200, "AuditPage", false},
		{"GET", "/deadletters", "listDeadLetters", "Rejected messages and readings, newest first",
			"Admins; fleet managers, for the devices now at their sites (a page may then hold fewer than limit items and still have a next).",
			[]string{"device", "reason", "since", "until", "deadletter_before", "limit"}, "", false, 200, "DeadLetterPage", false},
		{"GET", "/openapi.json", "openAPI", "This document", anyone, nil, "", false, 200, "OpenAPIDocument", false},

		// Sign-in and accounts (auth.go, users.go): listed so that the document covers every
		// route; their bodies and answers are described as free-form objects for now.
		{"POST", "/login", "login", "Sign in with a username and password; the answer sets the session cookie",
			"Anyone: it needs no credentials.", nil, "Object", false, 200, "Object", true},
		{"POST", "/logout", "logout", "End the session", anyone, nil, "", false, 204, "", false},
		{"GET", "/me", "me", "The user the request acts as", anyone, nil, "", false, 200, "Object", false},
		{"GET", "/users", "listUsers", "List users by id", adminOnly, []string{"role", "team", "site", "after", "limit"}, "", false, 200, "Object", false},
		{"POST", "/users", "createUser", "Create a user", adminOnly, nil, "Object", false, 201, "Object", false},
		{"GET", "/users/{id}", "getUser", "Get a user", adminOnly, nil, "", false, 200, "Object", false},
		{"PATCH", "/users/{id}", "updateUser", "Change a user", adminOnly, nil, "Object", false, 200, "Object", false},
		{"GET", "/users/{id}/tokens", "listTokens", "List a user's API tokens", adminOnly, nil, "", false, 200, "Object", false},
		{"POST", "/users/{id}/tokens", "createToken", "Make an API token for a user, shown once", adminOnly, nil, "Object", false, 201, "Object", false},
		{"DELETE", "/users/{id}/tokens/{token_id}", "revokeToken", "Revoke an API token", adminOnly, nil, "", false, 204, "", false},
	}
}

// apiSchemas names the types of bodies and answers. A request schema lists its required fields;
// an answer's are all the fields it always has. omit leaves fields out (those a PATCH cannot set).
var apiSchemas = []struct {
	name     string
	value    any
	request  bool
	required []string
	omit     []string
	enums    map[string][]string // this schema's own enums, over fieldEnums
}{
	{name: "Site", value: siteJSON{}},
	{name: "NewSite", value: siteJSON{}, request: true, required: []string{"id", "name"}},
	{name: "SitePatch", value: siteJSON{}, request: true, omit: []string{"id"}},
	{name: "SitePage", value: page[siteJSON]{}},
	{name: "Team", value: teamJSON{}},
	{name: "NewTeam", value: teamJSON{}, request: true, required: []string{"id", "site", "name"}},
	{name: "TeamPatch", value: teamJSON{}, request: true, omit: []string{"id"}},
	{name: "TeamPage", value: page[teamJSON]{}},
	{name: "Patient", value: patientJSON{}},
	{name: "NewPatient", value: patientJSON{}, request: true, required: []string{"id", "team"}},
	{name: "PatientPatch", value: patientJSON{}, request: true, omit: []string{"id", "team"}},
	{name: "PatientPage", value: page[patientJSON]{}},
	{name: "TransferRequest", value: transferRequest{}, request: true, required: []string{"team", "device_policy"}},
	{name: "Transfer", value: transferJSON{}},
	{name: "TransferList", value: page[transferJSON]{}},
	{name: "Device", value: deviceJSON{}},
	{name: "NewDevice", value: deviceJSON{}, request: true, required: []string{"id", "kind", "site", "mode"}},
	{name: "DevicePatch", value: deviceJSON{}, request: true, omit: []string{"id"}},
	{name: "CreatedDevice", value: newDeviceJSON{}},
	{name: "DevicePage", value: page[deviceJSON]{}},
	{name: "DeviceSecret", value: deviceSecretJSON{}},
	{name: "AssignRequest", value: assignRequest{}, request: true, required: []string{"patient"}},
	{name: "ReturnRequest", value: returnRequest{}, request: true},
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
	{name: "AssessmentPage", value: assessmentPage{}},
	{name: "Plan", value: planJSON{}},
	{name: "Move", value: moveJSON{}},
	{name: "MovePage", value: page[moveJSON]{}},
	{name: "MoveRequest", value: moveRequest{}, request: true, required: []string{"kind", "from", "to", "devices"}},
	{name: "MoveNote", value: moveNoteRequest{}, request: true},
	{name: "Alert", value: alertJSON{}, enums: alertEnums()},
	{name: "AlertPage", value: page[alertJSON]{}},
	{name: "AlertDetail", value: alertDetailJSON{}, enums: alertEnums()},
	{name: "AlertEvent", value: alertEventJSON{}, enums: alertEnums()},
	{name: "AlertNote", value: alertNoteRequest{}, request: true},
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
	{name: "WebhookPatch", value: webhookRequest{}, request: true, omit: []string{"team", "site"}, enums: webhookEnums()},
	{name: "Delivery", value: deliveryJSON{}, enums: webhookEnums()},
	{name: "DeliveryPage", value: page[deliveryJSON]{}},
	{name: "Error", value: errorBody{}},
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
		"mode":              param("mode", "Only devices in this mode.", enum(string(devices.Home), string(devices.StationMode))),
		"atomic":            param("atomic", "true: store nothing unless every row can be stored.", map[string]any{"type": "boolean", "default": false}),
		"subject":           param("subject", "Only changes to this subject, <entity>/<id>, e.g. device/cuff-0042.", str()),
		"actor":             param("actor", "Only changes by this actor, e.g. user:alice.", str()),
		"action":            param("action", "Only this action, <entity>.<verb>, e.g. patient.transfer.", str()),
		"audit_before":      param("before", "Cursor: the next of the previous page; only entries with a smaller id.", cursor()),
		"device":            param("device", "Only those of this device.", str()),
		"reason":            param("reason", "Only those with this reason.", enum(reasons...)),
		"since":             param("since", "Received at or after this time.", when()),
		"until":             param("until", "Received before this time.", when()),
		"type":              param("type", "Only this device type.", enum(kindNames()...)),
		"from":              param("from", "First month, YYYY-MM (default: the last complete month, or to).", map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`}),
		"to":                param("to", "Last month, YYYY-MM (default: the last complete month).", map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`}),
		"by":                param("by", "One row per device, per type at a site, per site, or per district and type.", enum("device", "type", "site", "district")),
		"format":            param("format", "json (default) or csv.", enum("json", "csv")),
		"verdict":           param("verdict", "Only those with this verdict.", enum(verdicts...)),
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
	"code":          {errcode.Invalid, errcode.Unauthorized, errcode.Forbidden, errcode.NotFound, errcode.Conflict, CodeUnsupportedMediaType, errcode.Unavailable, errcode.Internal},
}

var pathParam = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

// openAPIDocument builds the document.
func openAPIDocument() map[string]any {
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
		schemas[s.name] = objectSchema(reflect.TypeOf(s.value), names, own, s.request, s.required, s.omit)
	}
	schemas["OpenAPIDocument"] = map[string]any{"type": "object", "description": "An OpenAPI 3.0 document."}
	schemas["Object"] = map[string]any{"type": "object"}

	errorAnswer := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	params := queryParameters()
	paths := map[string]map[string]any{}
	for _, op := range apiOperations() {
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
		o := map[string]any{"operationId": op.id, "summary": op.summary, "description": "Access: " + op.access, "responses": answers}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		if op.public {
			o["security"] = []any{}
		}
		switch op.body {
		case "":
		case "csv":
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{
				"schema": map[string]any{"type": "string", "description": "A CSV file whose first line names its columns."}}}}
		default:
			o["requestBody"] = map[string]any{"required": !op.bodyOptional, "content": map[string]any{"application/json": map[string]any{
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

// objectSchema is the schema of struct type t. A request lists required; an answer requires
// every field that it always has.
func objectSchema(t reflect.Type, names map[reflect.Type]string, enums map[string][]string, request bool, required, omit []string) map[string]any {
	props := map[string]any{}
	var req []string
	for _, f := range jsonFields(t) {
		if slices.Contains(omit, f.name) {
			continue
		}
		s := typeSchema(f.typ, names, enums)
		if e, ok := enums[f.name]; ok && s["type"] == "string" {
			s["enum"] = e
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
