package webhook

import "time"

// Delivery is a verified delivery as kept for replay. Linear does not
// resend a delivery it got a 200 for, so the HTTP layer stores the body
// with the dedupe record before answering; a delivery whose apply never
// finished (the process died after the 200) is read back as a Delivery
// and decoded again with Parse. It is plain data: this package does no
// I/O.
type Delivery struct {
	// ID is the Linear-Delivery header, as Event.DeliveryID.
	ID string
	// Subject names what the delivery is about, in the HTTP layer's terms
	// ("issue:<id>", "org:<id>"). Every delivery carries its entity's
	// whole state, so of two deliveries of one subject only the newer is
	// worth replaying.
	Subject string
	// Body is the raw body exactly as verified.
	Body []byte
	// ReceivedAt is when the delivery was accepted.
	ReceivedAt time.Time
	// Attempts counts applies that failed so far.
	Attempts int
	// Superseded is set on a delivery read for replay when a newer one of
	// the same Subject was received: replaying it would put an older state
	// over a newer one.
	Superseded bool
}
