// Package notify tells people of alert events: the hub that feeds the live feed with this
// instance's events and the other instances', the escalator that pages up a team's chain when
// nobody acknowledges an urgent alert, and the webhook deliverer with its outbox, its retries,
// its HMAC signature and its check of where a webhook may be sent. What an alert is and how it
// changes is package alerts.
package notify
