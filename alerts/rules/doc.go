// Package rules raises clinical and device-fault findings from readings (docs/design.md
// "Alerts"): the rules file and the thresholds in force (the defaults of docs/domain.md,
// overridable per team and per patient), the engine that evaluates each accepted reading on its
// measurement time and the time-driven rules on the clock, and the Service that feeds the engine
// what ingest observed, keeps it in step with the registry, applies silences and writes its
// findings through the lifecycle of package alerts.
package rules
