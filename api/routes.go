package api

import (
	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
)

// routes is the table of /api/v1: every route, who may call it, what it needs, the query
// parameters and body it takes, what it answers and the handler that serves it (see route.go).
// The router is built from it, and the OpenAPI document; a route is one row and one handler.
func (a *API) routes() []route {
	doctor, fleetManager := []access.Role{access.Doctor}, []access.Role{access.FleetManager}
	var (
		anyone  = gate{doc: "Every role.", open: true}
		readers = func(what string) gate {
			return gate{doc: "Every role.", roles: []access.Role{access.Doctor, access.FleetManager}, what: what}
		}
		admins  = func(what string) gate { return gate{doc: "Admins only.", what: what} }
		doctors = gate{doc: "Doctors, for the patients of their own teams (403 for a patient of another team); admins.",
			roles: doctor, what: "see or change patients"}
		fleet = gate{doc: "Fleet managers, for the devices at their own sites (403 for a device at another site); admins.",
			roles: fleetManager, what: "see or change devices"}
		moves = func(doc string) gate {
			return gate{doc: doc, roles: fleetManager, what: "see or change moves of devices"}
		}
		overrides = func(doc string) gate {
			return gate{doc: doc, roles: doctor, what: "see or change threshold overrides"}
		}
		alertAccess   = gate{open: true, doc: "Doctors, for the clinical alerts of their own teams; fleet managers, for the device faults of their own sites (403 for any other alert); admins."}
		webhookAccess = gate{open: true, doc: "Doctors, for the webhooks of their own teams; fleet managers, for those of their own sites (403 for any other); admins."}
		silenceAccess = gate{open: true, doc: "Doctors, for the patients of their own teams; fleet managers, for the devices at their own sites (403 for any other subject); admins."}
	)
	const (
		registry     = needRegistry
		accounts     = needUsers
		alertStore   = needAlerts
		silenceStore = needSilences
		webhookStore = needWebhooks
		series       = needSeries
		status       = needDeviceStatus
	)
	list := []string{"after", "limit"}
	sites, teams, patients, devs := a.sites(), a.teams(), a.patients(), a.devices()
	team, patient := rules.TeamOverrides, rules.PatientOverrides
	return []route{
		{"GET", "/sites", "listSites", "List sites by id", readers("read sites"), registry, list, "", 200, "SitePage", sites.serveList},
		{"POST", "/sites", "createSite", "Create a site", admins("create sites"), registry, nil, "NewSite", 201, "Site", sites.serveCreate},
		{"POST", "/sites/import", "importSites", "Import sites from a CSV file (id, name, district, address, lat, lon, time_zone, opening_hours)",
			admins("create sites"), registry, []string{"atomic"}, "csv", 200, "ImportReport", sites.serveImport},
		{"GET", "/sites/{id}", "getSite", "Get a site", readers("read sites"), registry, nil, "", 200, "Site", sites.serveGet},
		{"PATCH", "/sites/{id}", "updateSite", "Change the fields given", admins("change sites"), registry, nil, "SitePatch", 200, "Site", sites.serveUpdate},
		{"GET", "/sites/{id}/fleet", "siteFleet",
			"The site's devices counted by live state (a device may be in several), by registry status, and by kind with both",
			gate{doc: "Fleet managers, for their own sites (403 for another site); admins.", roles: fleetManager, what: "see or change devices"},
			registry | status, nil, "", 200, "SiteFleet", a.siteFleet},

		{"GET", "/teams", "listTeams", "List teams by id", readers("read teams"), registry, append([]string{"site"}, list...), "", 200, "TeamPage", teams.serveList},
		{"POST", "/teams", "createTeam", "Create a team", admins("create teams"), registry, nil, "NewTeam", 201, "Team", teams.serveCreate},
		{"POST", "/teams/import", "importTeams", "Import teams from a CSV file (id, site, name)",
			admins("create teams"), registry, []string{"atomic"}, "csv", 200, "ImportReport", teams.serveImport},
		{"GET", "/teams/{id}", "getTeam", "Get a team", readers("read teams"), registry, nil, "", 200, "Team", teams.serveGet},
		{"PATCH", "/teams/{id}", "updateTeam", "Change the fields given", admins("change teams"), registry, nil, "TeamPatch", 200, "Team", teams.serveUpdate},

		{"GET", "/patients", "listPatients", "List patients by id; a doctor's list holds the patients of their teams",
			doctors, registry, append([]string{"team", "site"}, list...), "", 200, "PatientPage", patients.serveList},
		{"POST", "/patients", "createPatient", "Create a patient", doctors, registry, nil, "NewPatient", 201, "Patient", patients.serveCreate},
		{"POST", "/patients/import", "importPatients", "Import patients from a CSV file (id, team, plans separated by ;, birth_year); a row of another team is refused as forbidden",
			doctors, registry, []string{"atomic"}, "csv", 200, "ImportReport", patients.serveImport},
		{"GET", "/patients/{id}", "getPatient", "Get a patient", doctors, registry, nil, "", 200, "Patient", patients.serveGet},
		{"PATCH", "/patients/{id}", "updatePatient", "Change the fields given: the care plans, the birth year (only the year; 0 or null: unknown; 400 naming birth_year unless 1900 to the current year); the team changes only by a transfer",
			doctors, registry, nil, "PatientPatch", 200, "Patient", a.updatePatient},
		{"POST", "/patients/{id}/transfer", "transferPatient",
			"Move a patient to another team: the id and reading history stay, the plans go along, the home devices lent to the patient travel or are returned, and the old team's access ends",
			doctors.and(" The patient's current team must be the doctor's; the new one may be any."), registry, nil, "TransferRequest", 200, "Transfer", a.transferPatient},
		{"GET", "/patients/{id}/readings", "patientReadings",
			"The patient's readings of one type from InfluxDB, from any device, with their device, context and quality flags; a range of more than 2000 readings, or with every, comes as windows: the mean of each field and the count of readings per window (flagged readings included)",
			doctors, registry | series, []string{"reading_type", "reading_from", "reading_to", "every", "glucose_source"}, "", 200, "ReadingSeries", a.patientReadings},
		{"GET", "/patients/{id}/summary", "patientSummary",
			"The patient's clinical summary as of to: CGM report (time in ranges, GMI, AGP, level-2 episodes), meter glucose, home BP average, adherence to the care plans and vital signs, in the site's time zone, from the readings not in doubt; flags are codes, glucose is in mmol/L (and mg/dL with glucose_unit=mg/dL)",
			doctors, registry | series, []string{"summary_from", "summary_to", "glucose_days", "glucose_unit"}, "", 200, "PatientSummary", a.patientSummary},
		{"GET", "/patients/{id}/thresholds", "patientThresholds",
			"The clinical thresholds in force for the patient, each with what it takes, the guideline default, the rules file's value, and the team's and the patient's overrides when they have one; durations in seconds",
			doctors, registry, nil, "", 200, "PatientThresholds", a.patientThresholdsRoute},
		{"GET", "/patients/{id}/devices", "patientDevices",
			"The devices lent to the patient now, by id, with when the loan began and, when the server tracks them, their live states, when they were last heard from and their battery",
			doctors, registry, nil, "", 200, "PatientDevices", a.patientDevices},
		{"GET", "/patients/{id}/transfers", "listTransfers", "The patient's transfers, oldest first", doctors, registry, nil, "", 200, "TransferList", a.listTransfers},

		{"GET", "/devices", "listDevices", "List devices by id, each with its live states when the server tracks them; a fleet manager's list holds the devices at their sites",
			fleet, registry, append([]string{"site", "kind", "status", "mode", "device_state"}, list...), "", 200, "DevicePage", a.listDevices},
		{"POST", "/devices", "createDevice", "Create a device; the answer holds its MQTT secret, shown this once. Its id is 1-64 characters of A-Z a-z 0-9 . _ - (no : , which no broker password file can hold) and does not start with vitalwatch-, which the platform reserves for its own MQTT users",
			fleet, registry, nil, "NewDevice", 201, "CreatedDevice", a.createDevice},
		{"POST", "/devices/import", "importDevices",
			"Import devices from a CSV file (id, kind, site, mode, model, serial, firmware, status, rated_uses_per_day, next_calibration, secret); a device without a secret gets one, in the answer once; a row at another site is refused as forbidden",
			fleet, registry, []string{"atomic"}, "csv", 200, "ImportReport", a.importDevices},
		{"GET", "/devices/{id}", "getDevice", "Get a device", fleet, registry, nil, "", 200, "Device", devs.serveGet},
		{"PATCH", "/devices/{id}", "updateDevice", "Change the fields given; a fleet manager moves devices only between their own sites",
			fleet, registry, nil, "DevicePatch", 200, "Device", devs.serveUpdate},
		{"POST", "/devices/{id}/secret", "rotateDeviceSecret", "Give the device a new MQTT secret, shown this once; the old one stops working",
			fleet, registry, nil, "", 200, "DeviceSecret", a.rotateSecret},
		{"POST", "/devices/{id}/assign", "assignDevice", "Lend a home device to a patient (any patient: a fleet manager need not see them); a current loan ends when this one starts",
			fleet, registry, nil, "AssignRequest", 200, "Assignment", a.assignDevice},
		{"POST", "/devices/{id}/return", "returnDevice", "End the device's loan", fleet, registry, nil, "ReturnRequest", 200, "Assignment", a.returnDevice},
		{"GET", "/devices/{id}/readings", "deviceReadings",
			"The device's readings of one type from InfluxDB, as the patient's readings are, without the patient they are credited to",
			fleet, registry | series, []string{"reading_type", "reading_from", "reading_to", "every"}, "", 200, "ReadingSeries", a.deviceReadings},
		{"GET", "/devices/{id}/assignments", "listAssignments", "The device's loans, oldest first", fleet, registry, nil, "", 200, "AssignmentList", a.listAssignments},
		{"GET", "/devices/{id}/status", "deviceStatus",
			"The device's live status: its states (online, offline, battery_low, calibration_due, faulty), its connection as the broker or its status topic last told it, " +
				"when it was last heard from, the battery, signal, firmware and clock offset it reported, the registry's firmware and next calibration, its open fault alerts, " +
				"its readings and dead letters in the last 24 hours, and for a device in transit its move; every value a code or a number",
			fleet, registry | status, nil, "", 200, "DeviceStatus", a.deviceStatus},

		{"GET", "/devices/{id}/alternatives", "deviceAlternatives",
			"Where the residents booked on this device can go instead: the other centres with a working device of its type and spare daily capacity last month, nearest first",
			fleet, registry, nil, "", 200, "Alternatives", a.alternatives},
		{"GET", "/devices/{id}/repairs", "deviceRepairs",
			"The device's repairs at any centre, newest first: each from its fault alert (or maintenance) to active again, how it started, and the hours its centre had no other working device of its type",
			fleet, registry, nil, "", 200, "DeviceRepairs", a.deviceRepairs},

		{"GET", "/utilisation", "utilisation",
			"Utilisation per month of each device, or rolled up per type at a site, per site or per district and type; as CSV with format=csv or Accept: text/csv",
			fleet.and(" Without site, a fleet manager's figures cover their sites."), registry, []string{"site", "type", "from", "to", "by", "format"}, "", 200, "Utilisation", a.utilisation},
		{"GET", "/utilisation/days", "utilisationDays",
			"Each device's uses on each local day of a month (default: the last complete month) at each centre it was at, with whether the day counted (in service; home devices: lent)",
			fleet.and(" Without site, a fleet manager's devices are those of their sites."), registry, []string{"site", "type", "month"}, "", 200, "UtilisationDays", a.utilisationDays},
		{"GET", "/utilisation/repairs", "repairTurnaround",
			"How long devices took from their fault (a fault alert of a broken device still open when it was put under maintenance, else maintenance) to active again, per month they came back (UTC), centre and type: the median, the 90th percentile, the device-days out and the hours the centre had no other working device of the type (residents redirected); and the repairs still open, each with how it started",
			fleet.and(" Without site, a fleet manager's repairs are those of their sites."), registry, []string{"site", "type", "from", "to", "format"}, "", 200, "Repairs", a.repairs},
		{"GET", "/reallocation/assessment", "reallocationAssessment",
			"Which device types at which centres are spare, short or balanced over the last complete months",
			fleet.and(" Without site, a fleet manager's list covers their sites."), registry, []string{"site", "type", "verdict"}, "", 200, "AssessmentPage", a.assessment},
		{"GET", "/reallocation/plan", "reallocationPlan",
			"The moves of spare devices to short centres that meet the most shortage at the least distance, each explained",
			fleet.and(" A fleet manager sees the moves from or to their sites."), registry, []string{"type", "basis"}, "", 200, "Plan", a.plan},

		{"GET", "/moves", "listMoves", "Moves of devices between sites, newest first; a fleet manager's list holds the moves from or to their sites",
			moves("Fleet managers; admins."), registry, []string{"move_state", "move_site", "move_device", "move_before", "limit"}, "", 200, "MovePage", a.listMoves},
		{"POST", "/moves", "proposeMove",
			"Propose a move of devices of one kind from one site to another; each must be at the donor site, active, not lent to a patient and in no other open move",
			moves("Fleet managers of the donor or the receiving site; admins."), registry, nil, "MoveRequest", 201, "Move", a.proposeMove},
		{"GET", "/moves/{id}", "getMove", "Get a move with its chain of custody",
			moves("Fleet managers of its donor or receiving site; admins."), registry, nil, "", 200, "Move", a.getMove},
		{"POST", "/moves/{id}/approve", "approveMove", "Approve a proposed move; its devices are checked again",
			moves("Fleet managers of the donor site; admins."), registry, nil, "MoveNote", 200, "Move", a.stepMove(devices.ApproveMove)},
		{"POST", "/moves/{id}/reject", "rejectMove", "Reject a proposed move, which frees its devices",
			moves("Fleet managers of the donor site; admins."), registry, nil, "MoveNote", 200, "Move", a.stepMove(devices.RejectMove)},
		{"POST", "/moves/{id}/dispatch", "dispatchMove",
			"Send an approved move's devices on their way, after checking them again: each is in transit (out of service, not expected to report) at the donor site until received",
			moves("Fleet managers of the donor site; admins."), registry, nil, "", 200, "Move", a.stepMove(devices.DispatchMove)},
		{"POST", "/moves/{id}/receive", "receiveMove", "Confirm that a dispatched move's devices arrived: each is active at the receiving site from now",
			moves("Fleet managers of the receiving site; admins."), registry, nil, "", 200, "Move", a.stepMove(devices.ReceiveMove)},
		{"POST", "/moves/{id}/cancel", "cancelMove", "Call off a proposed or approved move, which frees its devices",
			moves("Whoever proposed it, fleet managers of the donor site; admins."), registry, nil, "MoveNote", 200, "Move", a.stepMove(devices.CancelMove)},

		{"GET", "/alerts", "listAlerts", "Alerts, newest first; a doctor's list holds the clinical alerts of their teams, a fleet manager's the device faults of their sites",
			alertAccess, alertStore, []string{"alert_state", "severity", "rule", "alert_patient", "alert_device", "alert_team", "alert_site", "category",
				"alert_since", "alert_until", "alert_before", "limit"}, "", 200, "AlertPage", a.listAlerts},
		{"GET", "/alerts/stream", "alertStream",
			"The live feed of alert events as Server-Sent Events: id is the event id, event its type (raised, updated, severity_raised, acknowledged, resolved, escalated), data the JSON of the alert after the change (an Alert without evidence). " +
				"Send Last-Event-ID to resume: the events after it are replayed first. A comment line comes every 15 s when there is nothing to send.",
			alertAccess.and(" Each receives the events of the alerts they may see."), alertStore, nil, "", 200, "sse", a.alertStream},
		{"GET", "/alerts/burden", "alertBurden",
			"The alert burden per team (clinical alerts) or site (device faults) and rule over [from, to), by when the alerts were raised: how many, about how many patients or devices, " +
				"alerts per patient (device) per week of the team's patients (the site's devices), how many were acknowledged and the median time to acknowledge, " +
				"how many resolved automatically or by a person, and how many were late, silenced or in doubt; as CSV with format=csv or Accept: text/csv",
			alertAccess.and(" Each sees the figures of the alerts they may see."), alertStore, []string{"burden_from", "burden_to", "burden_team", "burden_site", "rule", "format"},
			"", 200, "AlertBurden", a.alertBurden},
		{"GET", "/alerts/{id}", "getAlert",
			"An alert with its history and its evidence: the readings recorded with it (the first 5 and the latest 20) as InfluxDB holds them, each marked with whether InfluxDB still has it, " +
				"and for a patient's alert the patient's other readings of those measurements from first to last seen (the newest 100). " +
				"If InfluxDB cannot be read, the evidence is as recorded, with evidence_source \"recorded\" and a warning",
			alertAccess, alertStore, nil, "", 200, "AlertDetail", a.getAlert},
		{"POST", "/alerts/{id}/acknowledge", "acknowledgeAlert", "Acknowledge an open alert, with an optional note",
			alertAccess, alertStore, nil, "AlertNote", 200, "Alert", a.actOnAlert("acknowledge")},
		{"POST", "/alerts/{id}/resolve", "resolveAlert", "Resolve an open or acknowledged alert, with a note (required for a clinical alert)",
			alertAccess, alertStore, nil, "AlertNote", 200, "Alert", a.actOnAlert("resolve")},
		{"POST", "/alerts/{id}/snooze", "snoozeAlert",
			"Snooze an alert: silence its subject (the patient, or the device of a fault) from now until until, or for a duration (for: \"72h\"), with a reason, as POST /silences does; the answer is the silence. A notice about a centre (subject site/<id>) cannot be snoozed (400)",
			alertAccess.and(" Silencing a patient takes a doctor, a device a fleet manager."), alertStore | silenceStore, nil, "Snooze", 201, "Silence", a.snoozeAlert},

		{"GET", "/teams/{id}/overrides", "getTeamOverrides", "The team's threshold overrides: per rule, per threshold key, a number in the rule's unit or a duration such as \"20m\"",
			overrides("Doctors of the team (403 for another team); admins."), registry, nil, "", 200, "Overrides", a.overrides(team, a.getOverrides)},
		{"PUT", "/teams/{id}/overrides", "setTeamOverrides", "Replace the team's threshold overrides, checked against the rules in force (400 naming the rule and key); {} removes them",
			overrides("Doctors of the team (403 for another team); admins."), registry, nil, "OverridesRequest", 200, "Overrides", a.overrides(team, a.putOverrides)},
		{"DELETE", "/teams/{id}/overrides", "deleteTeamOverrides", "Remove the team's threshold overrides",
			overrides("Doctors of the team (403 for another team); admins."), registry, nil, "", 204, "", a.overrides(team, a.deleteOverrides)},
		{"GET", "/patients/{id}/overrides", "getPatientOverrides", "The patient's own threshold overrides, which beat the team's and stay with the patient through a transfer",
			overrides(doctors.doc), registry, nil, "", 200, "Overrides", a.overrides(patient, a.getOverrides)},
		{"PUT", "/patients/{id}/overrides", "setPatientOverrides", "Replace the patient's threshold overrides, checked against the rules in force (400 naming the rule and key); {} removes them",
			overrides(doctors.doc), registry, nil, "OverridesRequest", 200, "Overrides", a.overrides(patient, a.putOverrides)},
		{"DELETE", "/patients/{id}/overrides", "deletePatientOverrides", "Remove the patient's threshold overrides",
			overrides(doctors.doc), registry, nil, "", 204, "", a.overrides(patient, a.deleteOverrides)},

		{"GET", "/silences", "listSilences", "Silences of patients and devices, newest first; a doctor's list holds those of their teams' patients, a fleet manager's those of their sites' devices",
			silenceAccess, registry | silenceStore, []string{"silence_subject", "silence_active", "silence_before", "limit"}, "", 200, "SilencePage", a.listSilences},
		{"POST", "/silences", "createSilence", "Silence a patient's or a device's alerts from from (default now) until until, with a reason: they are still recorded, with the reason, and notify nobody",
			silenceAccess, registry | silenceStore, nil, "SilenceRequest", 201, "Silence", a.createSilence},
		{"DELETE", "/silences/{id}", "deleteSilence", "Delete a silence, which ends it", silenceAccess, registry | silenceStore, nil, "", 204, "", a.deleteSilence},

		{"GET", "/webhooks", "listWebhooks", "Webhooks by id; a doctor's list holds those of their teams, a fleet manager's those of their sites",
			webhookAccess, webhookStore, []string{"team", "site", "webhook_after", "limit"}, "", 200, "WebhookPage", a.listWebhooks},
		{"POST", "/webhooks", "createWebhook",
			"Register a webhook for a team (its clinical alerts) or a site (its device faults); the answer holds its signing secret, shown this once. " +
				"The URL is http or https without user info; unless the server allows private targets, its host may not be localhost or a loopback, link-local, private, unspecified or multicast address (400 naming url)",
			webhookAccess, webhookStore, nil, "NewWebhook", 201, "CreatedWebhook", a.createWebhook},
		{"GET", "/webhooks/{id}", "getWebhook", "Get a webhook, without its secret", webhookAccess, webhookStore, nil, "", 200, "Webhook", a.getWebhook},
		{"PATCH", "/webhooks/{id}", "updateWebhook", "Change the URL (as registering checks it), enabled or min_severity; a disabled webhook's queued deliveries wait",
			webhookAccess, webhookStore, nil, "WebhookPatch", 200, "Webhook", a.updateWebhook},
		{"DELETE", "/webhooks/{id}", "deleteWebhook", "Delete a webhook and its delivery log", webhookAccess, webhookStore, nil, "", 204, "", a.deleteWebhook},
		{"POST", "/webhooks/{id}/rotate-secret", "rotateWebhookSecret",
			"Give the webhook a new signing secret, in the answer this once: every request sent from then on, retries of events queued before included, is signed with it, and the old one no longer verifies",
			webhookAccess, webhookStore, nil, "", 200, "CreatedWebhook", a.rotateWebhookSecret},
		{"GET", "/webhooks/{id}/deliveries", "listWebhookDeliveries",
			"The delivery log, newest first: each event sent, its attempts, the last status or error, the next attempt and when it was delivered",
			webhookAccess, webhookStore, []string{"delivery_before", "limit"}, "", 200, "DeliveryPage", a.listDeliveries},

		{"GET", "/audit", "listAudit", "The audit log of registry changes, newest first", admins("read the audit log"), registry,
			[]string{"subject", "actor", "action", "audit_since", "audit_until", "audit_before", "limit"}, "", 200, "AuditPage", a.listAudit},
		{"GET", "/deadletters", "listDeadLetters", "Rejected messages and readings, newest first",
			gate{doc: "Admins; fleet managers, for the devices now at their sites (a page may then hold fewer than limit items and still have a next).",
				roles: fleetManager, what: "read dead letters"},
			0, []string{"device", "reason", "since", "until", "deadletter_before", "limit"}, "", 200, "DeadLetterPage", a.listDeadLetters},
		{"GET", "/openapi.json", "openAPI", "This document", anyone, 0, nil, "", 200, "OpenAPIDocument", a.openAPI},

		// Sign-in and accounts: auth.go, users.go.
		{"POST", "/login", "login", "Sign in with a username and password; the answer sets the session cookie",
			gate{doc: "Anyone: it needs no credentials.", public: true}, accounts, nil, "Login", 200, "User", a.signIn.login},
		{"POST", "/logout", "logout", "End the session", anyone, 0, nil, "", 204, "", a.logout},
		{"GET", "/me", "me", "The user the request acts as", anyone, accounts, nil, "", 200, "User", a.me},
		{"GET", "/users", "listUsers", "List users by id", admins("list users"), accounts, []string{"role", "team", "site", "after", "limit"}, "", 200, "UserPage", a.listUsers},
		{"POST", "/users", "createUser", "Create a user; a password, if given, is at least 12 characters, and only its hash is kept",
			admins("create users"), accounts, nil, "NewUser", 201, "User", a.createUser},
		{"GET", "/users/{id}", "getUser", "Get a user", admins("read users"), accounts, nil, "", 200, "User", a.getUser},
		{"PATCH", "/users/{id}", "updateUser", "Change the fields given; a new role drops the teams or sites it has no use for unless they are given too",
			admins("change users"), accounts, nil, "UserPatch", 200, "User", a.updateUser},
		{"GET", "/users/{id}/tokens", "listTokens", "List a user's API tokens, without the tokens themselves", admins("list API tokens"), accounts, nil, "", 200, "TokenList", a.listTokens},
		{"POST", "/users/{id}/tokens", "createToken", "Make an API token for a user; the answer holds the token, shown this once",
			admins("create API tokens"), accounts, nil, "NewToken", 201, "Token", a.createToken},
		{"DELETE", "/users/{id}/tokens/{token_id}", "revokeToken", "Revoke an API token", admins("revoke API tokens"), accounts, nil, "", 204, "", a.revokeToken},
	}
}
