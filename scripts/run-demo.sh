#!/usr/bin/env bash
# Starts InfluxDB (unless VITALWATCH_INFLUX_URL points at one), vitalwatch serve with its embedded
# broker, and a demo fleet; prints where to look; Ctrl-C stops everything. On first start the fleet
# (scenario "reallocation": idle, normal and overloaded centres, a failing station, repairs) also
# publishes DEMO_HISTORY of past readings, so that utilisation, the reallocation plan and repair
# turnaround have months to show.
# On top of the fleet, vitalsim plays the scripted day at a community centre (DEMO_SCENARIO).
set -euo pipefail
cd "$(dirname "$0")/.."

export VITALWATCH_DATA_DIR=${VITALWATCH_DATA_DIR:-data}
# The demo's district outlines, invented around its centres, drawn by the web app's map; set it
# empty to draw none.
export VITALWATCH_WEB_DISTRICTS_GEOJSON=${VITALWATCH_WEB_DISTRICTS_GEOJSON-scripts/demo-districts.geojson}
HTTP=${VITALWATCH_HTTP_LISTEN:-127.0.0.1:8080}
BROKER=${VITALWATCH_BROKER_LISTEN:-127.0.0.1:1883}
INFLUX_PORT=${INFLUX_PORT:-8086}
DEMO_DEVICES=${DEMO_DEVICES:-60}
DEMO_HISTORY=${DEMO_HISTORY:-130d} # at least 4 months: the planner looks at the last 3 complete ones
DEMO_SCENARIO=${DEMO_SCENARIO:-simulators/scenarios/community-centre-day.yaml}
REG="$VITALWATCH_DATA_DIR/demo-registry"
mkdir -p "$VITALWATCH_DATA_DIR"

pids=()
cleanup() {
	trap - EXIT INT TERM
	echo
	echo "stopping..."
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

wait_http() { # url what
	for _ in $(seq 1 120); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.5
	done
	echo "$2 did not come up at $1" >&2
	return 1
}

if [ -z "${VITALWATCH_INFLUX_URL:-}" ]; then
	idir="$VITALWATCH_DATA_DIR/influxdb"
	mkdir -p "$idir"
	iabs=$(cd "$idir" && pwd) # influxd wants absolute paths; VITALWATCH_DATA_DIR may be either
	cat >"$idir/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 2))"
[meta]
  dir = "$iabs/meta"
[data]
  dir = "$iabs/data"
  wal-dir = "$iabs/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
CONF
	.tools/bin/influxd run -config "$idir/influxd.conf" >"$idir/influxd.log" 2>&1 &
	pids+=($!)
	export VITALWATCH_INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"
	wait_http "$VITALWATCH_INFLUX_URL/ping" "influxd (log: $idir/influxd.log)"
	curl -fsS -XPOST "$VITALWATCH_INFLUX_URL/query" --data-urlencode 'q=CREATE DATABASE "vitalwatch"' >/dev/null
fi

# The demo fleet's registry (centres, teams, residents, devices and their secrets), once. Devices are
# in service, and home devices lent, from the first day of the history published below; the
# history's repairs (maintenance.csv) are imported as the devices' past periods under maintenance.
if [ ! -f "$REG/imported" ]; then
	mkdir -p "$REG"
	bin/vitalsim --export-registry "$REG" --devices "$DEMO_DEVICES" --seed 1 --scenario reallocation --scenario "$DEMO_SCENARIO" --history "$DEMO_HISTORY"
	bin/vitalwatch registry import "$REG" ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"}
	# One user of each role; each password and the admin's API token are printed once by the CLI.
	creds="$REG/credentials.txt"
	(
		umask 077
		: >"$creds"
		for u in "admin --role admin" "dr-wang --role doctor --teams team-01-1" "fleet-li --role fleet_manager --sites site-01"; do
			name=${u%% *}
			pw=$(bin/vitalwatch users add --username $u | tail -n 1)
			printf '%-10s %s\n' "$name" "$pw" >>"$creds"
		done
		printf 'API_TOKEN  %s\n' "$(bin/vitalwatch tokens create --user admin --name demo | tail -n 1)" >>"$creds"
	)
	touch "$REG/imported"
fi
# A data directory from before the scenario has the default fleet's registry: keep that fleet.
scenario=()
if [ -f "$REG/scenario.txt" ]; then scenario=(--scenario reallocation); fi
# The scripted day plays when the registry has its residents and devices (scenario-script.txt).
day=()
if [ -f "$REG/scenario-script.txt" ]; then day=(--scenario "$(awk '$1 == "script" {print $3}' "$REG/scenario-script.txt")"); fi
API_TOKEN=$(awk '$1 == "API_TOKEN" {print $2}' "$VITALWATCH_DATA_DIR/demo-registry/credentials.txt")

VITALWATCH_HTTP_LISTEN=$HTTP VITALWATCH_BROKER_LISTEN=$BROKER \
	bin/vitalwatch serve ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"} 2>"$VITALWATCH_DATA_DIR/vitalwatch.log" &
pids+=($!)
wait_http "http://$HTTP/readyz" "vitalwatch serve (log: $VITALWATCH_DATA_DIR/vitalwatch.log)"

# The history, once: every device's readings over DEMO_HISTORY, measured then, as fast as ingest
# takes them (about 95,000 messages for 60 devices and 130 days). The failing station then goes to
# maintenance, as a fleet manager would put it.
if [ ${#scenario[@]} -gt 0 ] && [ ! -f "$REG/history-done" ]; then
	again=false
	if [ -f "$REG/history-started" ]; then again=true; fi
	touch "$REG/history-started"
	echo "publishing $DEMO_HISTORY of history (log: $VITALWATCH_DATA_DIR/vitalsim-history.log)..."
	bin/vitalsim --broker "tcp://$BROKER" --auth --devices "$DEMO_DEVICES" --seed 1 "${scenario[@]}" --history "$DEMO_HISTORY" \
		--quiet --out "$REG/history.json" 2>"$VITALWATCH_DATA_DIR/vitalsim-history.log"
	if $again; then
		# An interrupted first attempt sent part of it already: ingest recognises repeats for days
		# only, so count the history's uses again from InfluxDB, which holds each reading once.
		hf=$(awk '$1 == "history_from" {print $2}' "$REG/scenario.txt")
		bin/vitalwatch usage rebuild --from "${hf%%T*}" --to "$(TZ=CST-8 date +%F)" ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"}
	fi
	failing=$(awk '$1 == "failing" {print $2}' "$REG/scenario.txt")
	if [ -n "$failing" ]; then
		bin/vitalwatch devices maintenance "$failing" ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"}
	fi
	touch "$REG/history-done"
fi

bin/vitalsim --broker "tcp://$BROKER" --auth --devices "$DEMO_DEVICES" --rate "${DEMO_RATE:-20}" --bad 0.02 --seed 1 "${scenario[@]}" "${day[@]}" --quiet \
	2>"$VITALWATCH_DATA_DIR/vitalsim.log" &
pids+=($!)

# The planner looks at complete months, in the centres' zone (UTC+8).
month0=$(TZ=CST-8 date +%Y-%m-01)
from=$(date -d "$month0 -3 months" +%Y-%m)
to=$(date -d "$month0 -1 month" +%Y-%m)
failing=$(awk '$1 == "failing" {print $2}' "$REG/scenario.txt" 2>/dev/null || true)
# The history's repairs (scenario.txt: repair DEVICE SITE FROM UNTIL), by the month (UTC) they
# ended, from the history's first; a data directory from before them has none.
repairs=$(awk '$1 == "repair" {n++} END {print n + 0}' "$REG/scenario.txt" 2>/dev/null || echo 0)
repairs_from=$(awk '$1 == "history_from" {print substr($2, 1, 7)}' "$REG/scenario.txt" 2>/dev/null || true)
auth="-H \"Authorization: Bearer $API_TOKEN\""
# For the summary and readings hints: the history's full CGM wearer and home BP protocol patient
# (profiles.txt of the export), else a patient lent a CGM and one lent a home cuff.
first_patient_of() {
	awk -F, -v kind="$1" 'NR == FNR { if ($2 == kind && $7 == "home") dev[$1] = 1; next }
		FNR > 1 && ($1 in dev) { print $2; exit }' "$REG/devices.csv" "$REG/assignments.csv" 2>/dev/null || true
}
profile_patient() { awk -v p="$1" '$1 == p {print $3; exit}' "$REG/profiles.txt" 2>/dev/null || true; }
cgm_patient=$(profile_patient full_cgm)
bp_patient=$(profile_patient home_bp_protocol)
: "${cgm_patient:=$(first_patient_of cgm)}" "${bp_patient:=$(first_patient_of bp_cuff)}"

cat <<MSG

VitalWatch is running with a demo fleet of $DEMO_DEVICES simulated devices sending ${DEMO_RATE:-20} messages a second.

  MQTT broker     tcp://$BROKER            (devices publish to devices/{id}/telemetry)
  readiness       http://$HTTP/readyz
  metrics         http://$HTTP/metrics
  web app         http://$HTTP/   (sign in with a demo user below: dr-wang for the alert inbox, fleet-li for device faults)
  API             http://$HTTP/api/v1   (OpenAPI: /api/v1/openapi.json; sign in or use the token below)
  InfluxDB        ${VITALWATCH_INFLUX_URL}   (database vitalwatch; Flux at /api/v2/query)
  registry        $VITALWATCH_DATA_DIR/demo-registry/*.csv   (bin/vitalwatch devices list)
  logs            $VITALWATCH_DATA_DIR/vitalwatch.log, $VITALWATCH_DATA_DIR/vitalsim.log

Demo users (username, password) and the admin's API token, from $VITALWATCH_DATA_DIR/demo-registry/credentials.txt:
$(sed 's/^/  /' "$VITALWATCH_DATA_DIR/demo-registry/credentials.txt")
  dr-wang is a doctor of team-01-1; fleet-li manages the devices of site-01.

Try:  curl -s http://$HTTP/metrics | grep vitalwatch_ingest_readings_total
      curl -s $auth http://$HTTP/api/v1/deadletters?limit=3
      curl -s $auth http://$HTTP/api/v1/devices?site=site-01
      curl -s $auth "http://$HTTP/api/v1/devices?site=site-01&state=offline"
      curl -s $auth http://$HTTP/api/v1/devices/$(awk -F, '$6 == "site-01" {print $1; exit}' "$REG/devices.csv" 2>/dev/null)/status
      curl -s $auth http://$HTTP/api/v1/sites/site-01/fleet
$(if [ -n "$cgm_patient" ]; then cat <<PATIENT

A patient's readings and clinical summary (CGM report with time in ranges, GMI and AGP; home BP
average; adherence; vitals), for $cgm_patient (14 days of a CGM worn every day, with a sensor
change) and $bp_patient (the week of the home BP protocol, day 1 left out):
      curl -s $auth "http://$HTTP/api/v1/patients/$cgm_patient/summary?glucose_unit=mg/dL"
      curl -s $auth "http://$HTTP/api/v1/patients/$cgm_patient/readings?type=glucose&from=$(date -u -d '-14 days' +%FT%TZ)"
      curl -s $auth "http://$HTTP/api/v1/patients/$bp_patient/summary"
The same readings as FHIR R4 Observations, for integrations (docs/fhir.md):
      curl -s $auth "http://$HTTP/fhir/r4/Observation?patient=$cgm_patient&_count=5"
PATIENT
fi)
$(if [ -n "$failing" ]; then cat <<UTIL

Utilisation and reallocation ($REG/scenario.txt: two idle centres, two overloaded, two normal;
the history of $DEMO_HISTORY is in $REG/history.json):
      curl -s $auth "http://$HTTP/api/v1/utilisation?by=type&from=$from&to=$to"
      curl -s $auth "http://$HTTP/api/v1/utilisation?by=type&from=$from&to=$to&format=csv"
      curl -s $auth http://$HTTP/api/v1/reallocation/plan
      curl -s $auth http://$HTTP/api/v1/moves
  $failing failed two days ago (sensor_malfunction, then silence) and is in maintenance; where its residents can go:
      curl -s $auth http://$HTTP/api/v1/devices/$failing/alternatives
UTIL
fi)
$(if [ "$repairs" -gt 0 ]; then cat <<REPAIRS

Repair turnaround: the history's $repairs repairs ($REG/maintenance.csv: each device flagged its fault,
then sent nothing until it was back), per month, centre and type with the median and 90th percentile:
      curl -s $auth "http://$HTTP/api/v1/utilisation/repairs?from=$repairs_from&to=$(date -u +%Y-%m)"
      curl -s $auth "http://$HTTP/api/v1/utilisation/repairs?from=$repairs_from&to=$(date -u +%Y-%m)&format=csv"
REPAIRS
fi)
$(if [ ${#day[@]} -gt 0 ]; then cat <<DAY

The scripted day at the Hongpailou centre (${day[1]}) plays on the wall clock from now, on top of
the fleet; vitalsim logs each of its messages in $VITALWATCH_DATA_DIR/vitalsim.log. Over the next
$(awk '$1 == "length" {print $2}' "$REG/scenario-script.txt") it should raise:
$(awk '$1 == "expect" {printf "  %-18s %-22s %s %s\n", $2, $3, $4, $5}' "$REG/scenario-script.txt")
(the fleet raises alerts of its own too). The inbox of dr-wang's team and the live feed:
      curl -s $auth "http://$HTTP/api/v1/alerts?team=team-01-1"
      curl -s $auth "http://$HTTP/api/v1/alerts?site=site-01&category=fault"
      curl -sN $auth http://$HTTP/api/v1/alerts/stream
DAY
fi)
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
