#!/usr/bin/env bash
# Starts InfluxDB (unless VITALWATCH_INFLUX_URL points at one), vitalwatch serve with its embedded
# broker, and a demo fleet; prints where to look; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export VITALWATCH_DATA_DIR=${VITALWATCH_DATA_DIR:-data}
HTTP=${VITALWATCH_HTTP_LISTEN:-127.0.0.1:8080}
BROKER=${VITALWATCH_BROKER_LISTEN:-127.0.0.1:1883}
INFLUX_PORT=${INFLUX_PORT:-8086}
DEMO_DEVICES=${DEMO_DEVICES:-60}
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
	cat >"$idir/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 2))"
[meta]
  dir = "$PWD/$idir/meta"
[data]
  dir = "$PWD/$idir/data"
  wal-dir = "$PWD/$idir/wal"
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

# The demo fleet's registry (centres, teams, residents, devices and their secrets), once.
if [ ! -f "$VITALWATCH_DATA_DIR/demo-registry/imported" ]; then
	mkdir -p "$VITALWATCH_DATA_DIR/demo-registry"
	bin/vitalsim --export-registry "$VITALWATCH_DATA_DIR/demo-registry" --devices "$DEMO_DEVICES" --seed 1
	bin/vitalwatch registry import "$VITALWATCH_DATA_DIR/demo-registry" ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"}
	# One user of each role; each password and the admin's API token are printed once by the CLI.
	creds="$VITALWATCH_DATA_DIR/demo-registry/credentials.txt"
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
	touch "$VITALWATCH_DATA_DIR/demo-registry/imported"
fi
API_TOKEN=$(awk '$1 == "API_TOKEN" {print $2}' "$VITALWATCH_DATA_DIR/demo-registry/credentials.txt")

VITALWATCH_HTTP_LISTEN=$HTTP VITALWATCH_BROKER_LISTEN=$BROKER \
	bin/vitalwatch serve ${VITALWATCH_CONFIG:+--config "$VITALWATCH_CONFIG"} 2>"$VITALWATCH_DATA_DIR/vitalwatch.log" &
pids+=($!)
wait_http "http://$HTTP/readyz" "vitalwatch serve (log: $VITALWATCH_DATA_DIR/vitalwatch.log)"

bin/vitalsim --broker "tcp://$BROKER" --auth --devices "$DEMO_DEVICES" --rate "${DEMO_RATE:-20}" --bad 0.02 --seed 1 --quiet \
	2>"$VITALWATCH_DATA_DIR/vitalsim.log" &
pids+=($!)

cat <<MSG

VitalWatch is running with a demo fleet of $DEMO_DEVICES simulated devices sending ${DEMO_RATE:-20} messages a second.

  MQTT broker     tcp://$BROKER            (devices publish to devices/{id}/telemetry)
  readiness       http://$HTTP/readyz
  metrics         http://$HTTP/metrics
  API             http://$HTTP/api/v1   (OpenAPI: /api/v1/openapi.json; sign in or use the token below)
  InfluxDB        ${VITALWATCH_INFLUX_URL}   (database vitalwatch; Flux at /api/v2/query)
  registry        $VITALWATCH_DATA_DIR/demo-registry/*.csv   (bin/vitalwatch devices list)
  logs            $VITALWATCH_DATA_DIR/vitalwatch.log, $VITALWATCH_DATA_DIR/vitalsim.log

Demo users (username, password) and the admin's API token, from $VITALWATCH_DATA_DIR/demo-registry/credentials.txt:
$(sed 's/^/  /' "$VITALWATCH_DATA_DIR/demo-registry/credentials.txt")
  dr-wang is a doctor of team-01-1; fleet-li manages the devices of site-01.

Try:  curl -s http://$HTTP/metrics | grep vitalwatch_ingest_readings_total
      curl -s -H "Authorization: Bearer $API_TOKEN" http://$HTTP/api/v1/deadletters?limit=3
      curl -s -H "Authorization: Bearer $API_TOKEN" http://$HTTP/api/v1/devices?site=site-01
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
