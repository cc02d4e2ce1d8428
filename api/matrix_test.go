package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
)

// matrixRoles are the callers of the access matrix: an admin, a doctor of team tA and a fleet
// manager of site sA (see registryPrincipals).
var matrixRoles = [3]string{"admin", "docA", "fleetA"}

// accessMatrix lists, for each endpoint on something of the caller's own team or site and on
// something of the other, the status each of matrixRoles gets. A role with no business with a
// kind of resource gets 403 whatever the id; an id that does not exist gets 404; one of another
// team or site gets 403.
var accessMatrix = []struct {
	method  string
	pattern string // the route, as in the OpenAPI document
	path    string
	body    string
	want    [3]int // admin, docA, fleetA
}{
	{"GET", "/sites", "/sites", "", [3]int{200, 200, 200}},
	{"POST", "/sites", "/sites", `{"id": "sC", "name": "New CHC"}`, [3]int{201, 403, 403}},
	{"POST", "/sites/import", "/sites/import", "csv:id,name\nsC,New CHC\n", [3]int{200, 403, 403}},
	{"GET", "/sites/{id}", "/sites/sA", "", [3]int{200, 200, 200}},
	{"GET", "/sites/{id}", "/sites/sB", "", [3]int{200, 200, 200}},
	{"GET", "/sites/{id}", "/sites/nope", "", [3]int{404, 404, 404}},
	{"GET", "/sites/{id}/fleet", "/sites/sA/fleet", "", [3]int{200, 403, 200}},
	{"GET", "/sites/{id}/fleet", "/sites/sB/fleet", "", [3]int{200, 403, 403}},
	{"GET", "/sites/{id}/fleet", "/sites/nope/fleet", "", [3]int{404, 403, 404}},
	{"PATCH", "/sites/{id}", "/sites/sA", `{"name": "Renamed"}`, [3]int{200, 403, 403}},
	{"PATCH", "/sites/{id}", "/sites/sB", `{"name": "Renamed"}`, [3]int{200, 403, 403}},

	{"GET", "/teams", "/teams", "", [3]int{200, 200, 200}},
	{"GET", "/teams", "/teams?site=sB", "", [3]int{200, 200, 200}},
	{"POST", "/teams", "/teams", `{"id": "tC", "site": "sA", "name": "Team C"}`, [3]int{201, 403, 403}},
	{"POST", "/teams/import", "/teams/import", "csv:id,site,name\ntC,sA,Team C\n", [3]int{200, 403, 403}},
	{"GET", "/teams/{id}", "/teams/tA", "", [3]int{200, 200, 200}},
	{"GET", "/teams/{id}", "/teams/tB", "", [3]int{200, 200, 200}},
	{"PATCH", "/teams/{id}", "/teams/tA", `{"name": "Renamed"}`, [3]int{200, 403, 403}},

	{"GET", "/patients", "/patients", "", [3]int{200, 200, 403}},
	{"GET", "/patients", "/patients?team=tA", "", [3]int{200, 200, 403}},
	{"GET", "/patients", "/patients?team=tB", "", [3]int{200, 403, 403}},
	{"POST", "/patients", "/patients", `{"id": "pA9", "team": "tA"}`, [3]int{201, 201, 403}},
	{"POST", "/patients", "/patients", `{"id": "pB9", "team": "tB"}`, [3]int{201, 403, 403}},
	{"POST", "/patients/import", "/patients/import", "csv:id,team\npA9,tA\n", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}", "/patients/pA1", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}", "/patients/pB1", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}", "/patients/nope", "", [3]int{404, 404, 403}},
	{"PATCH", "/patients/{id}", "/patients/pA1", `{"plans": ["diabetes: glucose fasting"]}`, [3]int{200, 200, 403}},
	{"PATCH", "/patients/{id}", "/patients/pB1", `{"plans": []}`, [3]int{200, 403, 403}},
	{"POST", "/patients/{id}/transfer", "/patients/pA1/transfer", `{"team": "tB", "device_policy": "return"}`, [3]int{200, 200, 403}},
	{"POST", "/patients/{id}/transfer", "/patients/pB1/transfer", `{"team": "tA", "device_policy": "travel"}`, [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/transfers", "/patients/pA1/transfers", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/transfers", "/patients/pB1/transfers", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/readings", "/patients/pA1/readings?type=glucose", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/readings", "/patients/pB1/readings?type=glucose", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/readings", "/patients/nope/readings?type=glucose", "", [3]int{404, 404, 403}},
	{"GET", "/patients/{id}/summary", "/patients/pA1/summary", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/summary", "/patients/pB1/summary?glucose_unit=mg/dL", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/summary", "/patients/nope/summary", "", [3]int{404, 404, 403}},
	{"GET", "/patients/{id}/thresholds", "/patients/pA1/thresholds", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/thresholds", "/patients/pB1/thresholds", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/thresholds", "/patients/nope/thresholds", "", [3]int{404, 404, 403}},
	{"GET", "/patients/{id}/devices", "/patients/pA1/devices", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/devices", "/patients/pB1/devices", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/devices", "/patients/nope/devices", "", [3]int{404, 404, 403}},

	{"GET", "/devices", "/devices", "", [3]int{200, 403, 200}},
	{"GET", "/devices", "/devices?site=sA&mode=home", "", [3]int{200, 403, 200}},
	{"GET", "/devices", "/devices?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/devices", "/devices?state=offline", "", [3]int{200, 403, 200}},
	{"GET", "/devices", "/devices?state=online&site=sB", "", [3]int{200, 403, 403}},
	{"POST", "/devices", "/devices", `{"id": "dA9", "kind": "oximeter", "site": "sA", "mode": "home"}`, [3]int{201, 403, 201}},
	{"POST", "/devices", "/devices", `{"id": "dB9", "kind": "oximeter", "site": "sB", "mode": "home"}`, [3]int{201, 403, 403}},
	{"POST", "/devices/import", "/devices/import", "csv:id,kind,site,mode\ndA9,scale,sA,home\n", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}", "/devices/dA1", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}", "/devices/dB1", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}", "/devices/nope", "", [3]int{404, 403, 404}},
	{"PATCH", "/devices/{id}", "/devices/dA1", `{"firmware": "2.0", "next_calibration": "2027-01-01T00:00:00Z"}`, [3]int{200, 403, 200}},
	{"PATCH", "/devices/{id}", "/devices/dB1", `{"firmware": "2.0"}`, [3]int{200, 403, 403}},
	{"PATCH", "/devices/{id}", "/devices/dA1", `{"site": "sB"}`, [3]int{200, 403, 403}},
	{"POST", "/devices/{id}/secret", "/devices/dA1/secret", "", [3]int{200, 403, 200}},
	{"POST", "/devices/{id}/secret", "/devices/dB1/secret", "", [3]int{200, 403, 403}},
	{"POST", "/devices/{id}/assign", "/devices/dA1/assign", `{"patient": "pB1"}`, [3]int{200, 403, 200}},
	{"POST", "/devices/{id}/assign", "/devices/dB1/assign", `{"patient": "pA1"}`, [3]int{200, 403, 403}},
	{"POST", "/devices/{id}/return", "/devices/dA2/return", "", [3]int{200, 403, 200}},
	{"POST", "/devices/{id}/return", "/devices/dB2/return", `{"at": "2026-11-02T08:00:00Z"}`, [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/assignments", "/devices/dA2/assignments", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}/assignments", "/devices/dB2/assignments", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/readings", "/devices/dA1/readings?type=bp", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}/readings", "/devices/dB1/readings?type=bp", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/readings", "/devices/nope/readings?type=bp", "", [3]int{404, 403, 404}},
	{"GET", "/devices/{id}/status", "/devices/dA1/status", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}/status", "/devices/dB1/status", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/status", "/devices/nope/status", "", [3]int{404, 403, 404}},

	// Moves (seeded by seedMoves): 1 sA->sB proposed by fleetA, 2 sB->sA proposed by fleetB,
	// 3 sA->sB and 4 sB->sA approved, 5 sA->sB and 6 sB->sA in transit, 7 sB->sC proposed,
	// 8 sB->sA proposed by fleetA.
	{"GET", "/moves", "/moves", "", [3]int{200, 403, 200}},
	{"GET", "/moves", "/moves?site=sA&state=proposed", "", [3]int{200, 403, 200}},
	{"GET", "/moves", "/moves?site=sB", "", [3]int{200, 403, 403}},
	{"POST", "/moves", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA1"], "reason": "sB is short"}`, [3]int{201, 403, 201}},
	{"POST", "/moves", "/moves", `{"kind": "bp_cuff", "from": "sB", "to": "sA", "devices": ["dB1"]}`, [3]int{201, 403, 201}},
	{"POST", "/moves", "/moves", `{"kind": "bp_cuff", "from": "sB", "to": "sC", "devices": ["dB1"]}`, [3]int{201, 403, 403}},
	{"GET", "/moves/{id}", "/moves/1", "", [3]int{200, 403, 200}},
	{"GET", "/moves/{id}", "/moves/2", "", [3]int{200, 403, 200}},
	{"GET", "/moves/{id}", "/moves/7", "", [3]int{200, 403, 403}},
	{"GET", "/moves/{id}", "/moves/99", "", [3]int{404, 403, 404}},
	{"POST", "/moves/{id}/approve", "/moves/1/approve", `{"note": "idle since June"}`, [3]int{200, 403, 200}},
	{"POST", "/moves/{id}/approve", "/moves/2/approve", "", [3]int{200, 403, 403}},
	{"POST", "/moves/{id}/approve", "/moves/99/approve", "", [3]int{404, 403, 404}},
	{"POST", "/moves/{id}/reject", "/moves/1/reject", `{"note": "needed here"}`, [3]int{200, 403, 200}},
	{"POST", "/moves/{id}/reject", "/moves/2/reject", "", [3]int{200, 403, 403}},
	{"POST", "/moves/{id}/dispatch", "/moves/3/dispatch", "", [3]int{200, 403, 200}},
	{"POST", "/moves/{id}/dispatch", "/moves/4/dispatch", "", [3]int{200, 403, 403}},
	{"POST", "/moves/{id}/receive", "/moves/5/receive", "", [3]int{200, 403, 403}},
	{"POST", "/moves/{id}/receive", "/moves/6/receive", "", [3]int{200, 403, 200}},
	{"POST", "/moves/{id}/cancel", "/moves/1/cancel", "", [3]int{200, 403, 200}},
	{"POST", "/moves/{id}/cancel", "/moves/2/cancel", "", [3]int{200, 403, 403}},
	{"POST", "/moves/{id}/cancel", "/moves/8/cancel", `{"note": "found one"}`, [3]int{200, 403, 200}},

	{"GET", "/devices/{id}/alternatives", "/devices/dA1/alternatives", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}/alternatives", "/devices/dB1/alternatives", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/alternatives", "/devices/nope/alternatives", "", [3]int{404, 403, 404}},
	{"GET", "/devices/{id}/repairs", "/devices/dA1/repairs", "", [3]int{200, 403, 200}},
	{"GET", "/devices/{id}/repairs", "/devices/dB1/repairs", "", [3]int{200, 403, 403}},
	{"GET", "/devices/{id}/repairs", "/devices/nope/repairs", "", [3]int{404, 403, 404}},
	{"GET", "/utilisation", "/utilisation", "", [3]int{200, 403, 200}},
	{"GET", "/utilisation", "/utilisation?site=sA&by=type&from=2026-09&to=2026-10", "", [3]int{200, 403, 200}},
	{"GET", "/utilisation", "/utilisation?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/utilisation/days", "/utilisation/days", "", [3]int{200, 403, 200}},
	{"GET", "/utilisation/days", "/utilisation/days?site=sA&type=station&month=2026-10", "", [3]int{200, 403, 200}},
	{"GET", "/utilisation/days", "/utilisation/days?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/utilisation/repairs", "/utilisation/repairs", "", [3]int{200, 403, 200}},
	{"GET", "/utilisation/repairs", "/utilisation/repairs?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/reallocation/assessment", "/reallocation/assessment", "", [3]int{200, 403, 200}},
	{"GET", "/reallocation/assessment", "/reallocation/assessment?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/reallocation/plan", "/reallocation/plan?type=bp_cuff", "", [3]int{200, 403, 200}},

	{"GET", "/audit", "/audit", "", [3]int{200, 403, 403}},
	{"GET", "/audit", "/audit?subject=device/dA1&limit=5", "", [3]int{200, 403, 403}},

	{"GET", "/deadletters", "/deadletters", "", [3]int{200, 403, 200}},
	{"GET", "/deadletters", "/deadletters?device=dA1", "", [3]int{200, 403, 200}},
	{"GET", "/deadletters", "/deadletters?device=dB1", "", [3]int{200, 403, 403}},

	{"GET", "/openapi.json", "/openapi.json", "", [3]int{200, 200, 200}},

	// Alerts (seeded by seedAlerts): 1 clinical of tA, 2 clinical of tB, 3 fault at sA, 4 fault
	// at sB, all open.
	{"GET", "/alerts", "/alerts", "", [3]int{200, 200, 200}},
	{"GET", "/alerts", "/alerts?team=tA&state=open", "", [3]int{200, 200, 403}},
	{"GET", "/alerts", "/alerts?team=tB", "", [3]int{200, 403, 403}},
	{"GET", "/alerts", "/alerts?site=sA&category=fault", "", [3]int{200, 403, 200}},
	{"GET", "/alerts", "/alerts?site=sB", "", [3]int{200, 403, 403}},
	{"GET", "/alerts", "/alerts?category=clinical", "", [3]int{200, 200, 403}},
	{"GET", "/alerts", "/alerts?category=fault&severity=warning", "", [3]int{200, 403, 200}},
	{"GET", "/alerts/stream", "/alerts/stream", "", [3]int{200, 200, 200}},
	{"GET", "/alerts/burden", "/alerts/burden", "", [3]int{200, 200, 200}},
	{"GET", "/alerts/burden", "/alerts/burden?team=tA&rule=glucose_very_low", "", [3]int{200, 200, 403}},
	{"GET", "/alerts/burden", "/alerts/burden?team=tB", "", [3]int{200, 403, 403}},
	{"GET", "/alerts/burden", "/alerts/burden?site=sA&from=2026-11-01&to=2026-11-30", "", [3]int{200, 403, 200}},
	{"GET", "/alerts/burden", "/alerts/burden?site=sB&format=json", "", [3]int{200, 403, 403}},
	{"GET", "/alerts/{id}", "/alerts/1", "", [3]int{200, 200, 403}},
	{"GET", "/alerts/{id}", "/alerts/2", "", [3]int{200, 403, 403}},
	{"GET", "/alerts/{id}", "/alerts/3", "", [3]int{200, 403, 200}},
	{"GET", "/alerts/{id}", "/alerts/4", "", [3]int{200, 403, 403}},
	{"GET", "/alerts/{id}", "/alerts/99", "", [3]int{404, 404, 404}},
	{"POST", "/alerts/{id}/acknowledge", "/alerts/1/acknowledge", `{"note": "calling"}`, [3]int{200, 200, 403}},
	{"POST", "/alerts/{id}/acknowledge", "/alerts/2/acknowledge", "", [3]int{200, 403, 403}},
	{"POST", "/alerts/{id}/acknowledge", "/alerts/3/acknowledge", "", [3]int{200, 403, 200}},
	{"POST", "/alerts/{id}/acknowledge", "/alerts/4/acknowledge", "", [3]int{200, 403, 403}},
	{"POST", "/alerts/{id}/acknowledge", "/alerts/99/acknowledge", "", [3]int{404, 404, 404}},
	{"POST", "/alerts/{id}/resolve", "/alerts/1/resolve", `{"note": "retest normal"}`, [3]int{200, 200, 403}},
	{"POST", "/alerts/{id}/resolve", "/alerts/2/resolve", `{"note": "seen"}`, [3]int{200, 403, 403}},
	{"POST", "/alerts/{id}/resolve", "/alerts/3/resolve", "", [3]int{200, 403, 200}},
	{"POST", "/alerts/{id}/resolve", "/alerts/4/resolve", "", [3]int{200, 403, 403}},
	{"POST", "/alerts/{id}/resolve", "/alerts/99/resolve", "", [3]int{404, 404, 404}},
	{"POST", "/alerts/{id}/snooze", "/alerts/1/snooze", `{"for": "72h", "reason": "in hospital"}`, [3]int{201, 201, 403}},
	{"POST", "/alerts/{id}/snooze", "/alerts/2/snooze", `{"for": "72h", "reason": "in hospital"}`, [3]int{201, 403, 403}},
	{"POST", "/alerts/{id}/snooze", "/alerts/3/snooze", `{"for": "24h", "reason": "away for repair"}`, [3]int{201, 403, 201}},
	{"POST", "/alerts/{id}/snooze", "/alerts/4/snooze", `{"for": "24h", "reason": "away for repair"}`, [3]int{201, 403, 403}},
	{"POST", "/alerts/{id}/snooze", "/alerts/1/snooze", `{"reason": "in hospital"}`, [3]int{400, 400, 403}},
	{"POST", "/alerts/{id}/snooze", "/alerts/99/snooze", `{"for": "72h", "reason": "in hospital"}`, [3]int{404, 404, 404}},

	// Threshold overrides and silences (seeded by seedSettings): silence 1 of pA1, 2 of pB1,
	// 3 of dA1, 4 of dB1.
	{"GET", "/teams/{id}/overrides", "/teams/tA/overrides", "", [3]int{200, 200, 403}},
	{"GET", "/teams/{id}/overrides", "/teams/tB/overrides", "", [3]int{200, 403, 403}},
	{"GET", "/teams/{id}/overrides", "/teams/nope/overrides", "", [3]int{404, 404, 403}},
	{"PUT", "/teams/{id}/overrides", "/teams/tA/overrides", `{"overrides": {"glucose_low": {"below": 4.5}}}`, [3]int{200, 200, 403}},
	{"PUT", "/teams/{id}/overrides", "/teams/tB/overrides", `{"overrides": {"glucose_low": {"below": 4.5}}}`, [3]int{200, 403, 403}},
	{"PUT", "/teams/{id}/overrides", "/teams/tA/overrides", `{"overrides": {"glucose_low": {"blow": 4.5}}}`, [3]int{400, 400, 403}},
	{"DELETE", "/teams/{id}/overrides", "/teams/tA/overrides", "", [3]int{204, 204, 403}},
	{"DELETE", "/teams/{id}/overrides", "/teams/tB/overrides", "", [3]int{204, 403, 403}},
	{"GET", "/patients/{id}/overrides", "/patients/pA1/overrides", "", [3]int{200, 200, 403}},
	{"GET", "/patients/{id}/overrides", "/patients/pB1/overrides", "", [3]int{200, 403, 403}},
	{"GET", "/patients/{id}/overrides", "/patients/nope/overrides", "", [3]int{404, 404, 403}},
	{"PUT", "/patients/{id}/overrides", "/patients/pA1/overrides", `{"overrides": {"cgm_low_episode": {"duration": "20m"}}}`, [3]int{200, 200, 403}},
	{"PUT", "/patients/{id}/overrides", "/patients/pB1/overrides", `{"overrides": {}}`, [3]int{200, 403, 403}},
	{"DELETE", "/patients/{id}/overrides", "/patients/pA1/overrides", "", [3]int{204, 204, 403}},
	{"DELETE", "/patients/{id}/overrides", "/patients/pB1/overrides", "", [3]int{204, 403, 403}},
	{"GET", "/silences", "/silences", "", [3]int{200, 200, 200}},
	{"GET", "/silences", "/silences?subject=patient/pB1", "", [3]int{200, 403, 403}},
	{"GET", "/silences", "/silences?subject=device/dA1&active=true&limit=5", "", [3]int{200, 403, 200}},
	{"GET", "/silences", "/silences?subject=device/nope", "", [3]int{400, 403, 400}},
	{"POST", "/silences", "/silences", `{"subject": "patient/pA1", "until": "2026-12-05T00:00:00Z", "from": "2026-12-01T00:00:00Z", "reason": "in hospital"}`, [3]int{201, 201, 403}},
	{"POST", "/silences", "/silences", `{"subject": "patient/pB1", "until": "2026-12-05T00:00:00Z", "from": "2026-12-01T00:00:00Z", "reason": "in hospital"}`, [3]int{201, 403, 403}},
	{"POST", "/silences", "/silences", `{"subject": "device/dA1", "until": "2026-12-05T00:00:00Z", "from": "2026-12-01T00:00:00Z", "reason": "sent for repair"}`, [3]int{201, 403, 201}},
	{"POST", "/silences", "/silences", `{"subject": "device/dB1", "until": "2026-12-05T00:00:00Z", "from": "2026-12-01T00:00:00Z", "reason": "sent for repair"}`, [3]int{201, 403, 403}},
	{"POST", "/silences", "/silences", `{"subject": "patient/nope", "until": "2026-12-05T00:00:00Z", "from": "2026-12-01T00:00:00Z", "reason": "x"}`, [3]int{400, 400, 403}},
	{"DELETE", "/silences/{id}", "/silences/1", "", [3]int{204, 204, 403}},
	{"DELETE", "/silences/{id}", "/silences/2", "", [3]int{204, 403, 403}},
	{"DELETE", "/silences/{id}", "/silences/3", "", [3]int{204, 403, 204}},
	{"DELETE", "/silences/{id}", "/silences/99", "", [3]int{404, 404, 404}},

	// Webhooks (seeded by seedWebhooks): 1 of team tA, 2 of team tB, 3 of site sA, 4 of site
	// sB; 1 and 3 have a delivery each.
	{"GET", "/webhooks", "/webhooks", "", [3]int{200, 200, 200}},
	{"GET", "/webhooks", "/webhooks?team=tA&limit=5", "", [3]int{200, 200, 403}},
	{"GET", "/webhooks", "/webhooks?team=tB", "", [3]int{200, 403, 403}},
	{"GET", "/webhooks", "/webhooks?site=sA", "", [3]int{200, 403, 200}},
	{"POST", "/webhooks", "/webhooks", `{"team": "tA", "url": "https://sms.example/tA", "min_severity": "urgent"}`, [3]int{201, 201, 403}},
	{"POST", "/webhooks", "/webhooks", `{"team": "tB", "url": "https://sms.example/tB"}`, [3]int{201, 403, 403}},
	{"POST", "/webhooks", "/webhooks", `{"site": "sA", "url": "https://ops.example/sA", "enabled": false}`, [3]int{201, 403, 201}},
	{"POST", "/webhooks", "/webhooks", `{"site": "sB", "url": "https://ops.example/sB"}`, [3]int{201, 403, 403}},
	{"GET", "/webhooks/{id}", "/webhooks/1", "", [3]int{200, 200, 403}},
	{"GET", "/webhooks/{id}", "/webhooks/2", "", [3]int{200, 403, 403}},
	{"GET", "/webhooks/{id}", "/webhooks/3", "", [3]int{200, 403, 200}},
	{"GET", "/webhooks/{id}", "/webhooks/99", "", [3]int{404, 404, 404}},
	{"PATCH", "/webhooks/{id}", "/webhooks/1", `{"enabled": false, "min_severity": null}`, [3]int{200, 200, 403}},
	{"PATCH", "/webhooks/{id}", "/webhooks/3", `{"url": "https://ops.example/v2"}`, [3]int{200, 403, 200}},
	{"PATCH", "/webhooks/{id}", "/webhooks/4", `{"enabled": false}`, [3]int{200, 403, 403}},
	{"DELETE", "/webhooks/{id}", "/webhooks/1", "", [3]int{204, 204, 403}},
	{"DELETE", "/webhooks/{id}", "/webhooks/2", "", [3]int{204, 403, 403}},
	{"DELETE", "/webhooks/{id}", "/webhooks/3", "", [3]int{204, 403, 204}},
	{"DELETE", "/webhooks/{id}", "/webhooks/99", "", [3]int{404, 404, 404}},
	{"GET", "/webhooks/{id}/deliveries", "/webhooks/1/deliveries", "", [3]int{200, 200, 403}},
	{"GET", "/webhooks/{id}/deliveries", "/webhooks/2/deliveries", "", [3]int{200, 403, 403}},
	{"GET", "/webhooks/{id}/deliveries", "/webhooks/3/deliveries?limit=1", "", [3]int{200, 403, 200}},
	{"GET", "/webhooks/{id}/deliveries", "/webhooks/99/deliveries", "", [3]int{404, 404, 404}},
	{"POST", "/webhooks/{id}/rotate-secret", "/webhooks/1/rotate-secret", "", [3]int{200, 200, 403}},
	{"POST", "/webhooks/{id}/rotate-secret", "/webhooks/2/rotate-secret", "", [3]int{200, 403, 403}},
	{"POST", "/webhooks/{id}/rotate-secret", "/webhooks/3/rotate-secret", "", [3]int{200, 403, 200}},
	{"POST", "/webhooks/{id}/rotate-secret", "/webhooks/99/rotate-secret", "", [3]int{404, 404, 404}},
}

// TestAccessMatrix runs every endpoint as each role, on a new fixture each time, and checks the
// status, that an error is a JSON error, and that a success answer fits the OpenAPI document.
func TestAccessMatrix(t *testing.T) {
	doc := loadOpenAPI(t)
	for n, m := range accessMatrix {
		for i, role := range matrixRoles {
			// Unique names: a repeated one gets a "#01" suffix, which a SQLite file URI cuts off.
			t.Run(fmt.Sprintf("%02d %s %s as %s", n, m.method, m.path, role), func(t *testing.T) {
				t.Parallel()
				f := newRegistryFixture(t)
				if strings.HasPrefix(m.pattern, "/moves") {
					seedMoves(f)
				}
				if strings.HasPrefix(m.pattern, "/alerts") {
					seedAlerts(f)
				}
				if strings.HasPrefix(m.pattern, "/webhooks") {
					seedWebhooks(f)
				}
				if strings.HasSuffix(m.pattern, "/overrides") || strings.HasPrefix(m.pattern, "/silences") {
					seedSettings(f)
				}
				if strings.HasSuffix(m.pattern, "/readings") || strings.HasSuffix(m.pattern, "/summary") {
					serveSeries(f, noReadings{}) // the access checks, not InfluxDB
				}
				if strings.HasSuffix(m.pattern, "/status") || strings.HasSuffix(m.pattern, "/fleet") || strings.Contains(m.path, "state=") {
					serveDeviceStatus(f, devstatus.NewTracker(devstatus.DefaultLimits(), nil))
				}
				var w *httptest.ResponseRecorder
				if m.pattern == "/alerts/stream" {
					w = f.callStream(role, m.path, "", 100*time.Millisecond) // a stream ends when its client goes
				} else {
					w = f.call(role, m.method, m.path, m.body)
				}
				if w.Code != m.want[i] {
					t.Fatalf("%s %s %s as %s = %d %s; want %d", m.method, m.path, m.body, role, w.Code, w.Body, m.want[i])
				}
				if m.pattern == "/alerts/stream" && w.Code == 200 {
					if ct := w.Header().Get("Content-Type"); ct != "text/event-stream" {
						t.Errorf("GET %s as %s: Content-Type %q; want text/event-stream", m.path, role, ct)
					}
					return
				}
				if w.Code == http.StatusNoContent {
					return // no body to check
				}
				if err := doc.checkAnswer(m.method, m.pattern, w.Code, w.Body.Bytes()); err != nil {
					t.Errorf("%s %s as %s: answer %d does not fit the OpenAPI document: %v\n%s", m.method, m.path, role, w.Code, err, w.Body)
				}
			})
		}
	}
}

// Without credentials, every registry endpoint answers 401.
func TestRegistryNeedsCredentials(t *testing.T) {
	f := newRegistryFixture(t)
	for _, m := range accessMatrix {
		if w := f.call("", m.method, m.path, m.body); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials = %d %s; want 401", m.method, m.path, w.Code, w.Body)
		}
	}
}

// The matrix covers every registry route of the router.
func TestAccessMatrixCoversEveryRoute(t *testing.T) {
	f := newRegistryFixture(t)
	covered := map[string]bool{}
	for _, m := range accessMatrix {
		covered[m.method+" /api/v1"+m.pattern] = true
	}
	for _, route := range walkRoutes(t, f.api) {
		for _, prefix := range []string{"/sites", "/teams", "/patients", "/devices", "/audit", "/deadletters", "/openapi.json", "/moves", "/utilisation", "/reallocation", "/alerts", "/silences", "/webhooks"} {
			method, path, _ := strings.Cut(route, " ")
			if strings.HasPrefix(path, "/api/v1"+prefix) && !covered[route] {
				t.Errorf("the access matrix has no row for %s %s", method, path)
			}
		}
	}
}

// Lists show each role only what it may see, merged in id order across a principal's sites or
// teams, page by page.
func TestListsAreScoped(t *testing.T) {
	f := newRegistryFixture(t)
	for _, tt := range []struct {
		token, path string
		want        []string
	}{
		{"admin", "/patients", []string{"pA1", "pA2", "pB1"}},
		{"docA", "/patients", []string{"pA1", "pA2"}},
		{"docB", "/patients", []string{"pB1"}},
		{"docA", "/patients?site=sB", []string{}},
		{"admin", "/devices", []string{"dA1", "dA2", "dB1", "dB2", "stA"}},
		{"fleetA", "/devices", []string{"dA1", "dA2", "stA"}},
		{"fleetA", "/devices?mode=station", []string{"stA"}},
		{"fleetB", "/devices", []string{"dB1", "dB2"}},
		{"fleetAB", "/devices", []string{"dA1", "dA2", "dB1", "dB2", "stA"}},
		{"fleetAB", "/devices?after=dA2", []string{"dB1", "dB2", "stA"}},
		{"docA", "/teams?site=sB", []string{"tB"}},
	} {
		w := f.want(200, tt.token, "GET", tt.path, "", nil)
		if got := itemIDs(t, w.Body.Bytes()); !slices.Equal(got, tt.want) {
			t.Errorf("GET %s as %s = %v; want %v", tt.path, tt.token, got, tt.want)
		}
	}
	// Pages of 2, following next, as a fleet manager of two sites.
	var got []string
	next := ""
	for range 10 {
		var p struct {
			Items []deviceJSON `json:"items"`
			Next  string       `json:"next"`
		}
		path := "/devices?limit=2"
		if next != "" {
			path += "&after=" + next
		}
		f.want(200, "fleetAB", "GET", path, "", &p)
		for _, d := range p.Items {
			got = append(got, d.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	if want := []string{"dA1", "dA2", "dB1", "dB2", "stA"}; !slices.Equal(got, want) {
		t.Errorf("pages of 2 as fleetAB = %v; want %v", got, want)
	}

	// Dead letters: a fleet manager sees those of the devices now at their sites only.
	for _, tt := range []struct {
		token, query string
		want         []string
	}{
		{"admin", "", []string{"dB1", "dA1", "ghost", "dB1", "dA1"}},
		{"fleetA", "", []string{"dA1", "dA1"}},
		{"fleetB", "?limit=1", []string{"dB1"}},
		{"fleetAB", "?reason=malformed_json", []string{"dB1", "dA1", "dB1", "dA1"}},
	} {
		var p deadLetterPage
		f.want(200, tt.token, "GET", "/deadletters"+tt.query, "", &p)
		var got []string
		for _, d := range p.Items {
			got = append(got, d.Device)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("GET /deadletters%s as %s = %v; want %v", tt.query, tt.token, got, tt.want)
		}
	}
	var p deadLetterPage
	f.want(200, "fleetB", "GET", "/deadletters?limit=1", "", &p)
	var rest deadLetterPage
	f.want(200, "fleetB", "GET", "/deadletters?limit=1&before="+p.Next, "", &rest)
	if len(rest.Items) != 1 || rest.Items[0].Device != "dB1" || rest.Items[0].ID >= p.Items[0].ID {
		t.Errorf("second page of fleetB's dead letters = %+v; want the older one of dB1", rest.Items)
	}
}
