// Package deploy holds what an operator installs beside VitalWatch, as files: the Grafana
// dashboards and their provisioning (grafana/), and the Prometheus alerting rules, their unit
// tests and a scrape configuration (prometheus/). Its tests check them against a running
// vitalwatch serve, a real InfluxDB and promtool; see docs/operations.md, "Dashboards and
// alerting rules".
package deploy
