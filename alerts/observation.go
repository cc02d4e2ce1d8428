package alerts

import (
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Observation is one thing ingest took from a registered device, as the service consumes it
// (rules.Service.Observe): accepted telemetry, a status message, or a reading refused as implausible.
type Observation struct {
	// Device is the registry's device as of processing (shared: do not change it).
	Device *devices.Device
	// Telemetry: the accepted readings credited to Patient ("" when a home device was lent to
	// nobody at their time), with the message's flags and battery. A home device's message
	// whose readings span a change of loan is split, one Observation per patient.
	Message *reading.Message
	Patient string
	// Status: a status message.
	Status *reading.Status
	// Rejected: the reason a reading was refused. Only implausible values and timestamps in
	// the future are observed: the first are a sensor's fault, the second a clock's.
	Rejected reading.Reason
	// Received is when the message arrived.
	Received time.Time
}
