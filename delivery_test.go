package relais

import "testing"

func TestDeliveryStatusAdvances(t *testing.T) {
	for _, c := range []struct {
		from, to DeliveryStatus
		want     bool
	}{
		{DeliveryPending, DeliveryClaimed, true},
		{DeliveryClaimed, DeliveryQueued, true},
		{DeliverySent, DeliveryQueued, false},    // a late callback does not move it back
		{DeliveryDelivered, DeliverySent, false}, // nor after a final status
		{DeliveryFailed, DeliveryDelivered, false},
		// Only a claim becomes unknown: a pending delivery was never handed over, a sent one was.
		{DeliveryClaimed, DeliveryUnknown, true},
		{DeliveryPending, DeliveryUnknown, false},
		{DeliverySent, DeliveryUnknown, false},
		{DeliveryUnknown, DeliveryUnknown, false},
		// The provider's answer learnt after the sweep replaces unknown; nothing else does.
		{DeliveryUnknown, DeliveryQueued, true},
		{DeliveryUnknown, DeliveryDelivered, true},
		{DeliveryUnknown, DeliveryFailed, true},
		{DeliveryUnknown, DeliveryPending, false},
		{DeliveryUnknown, DeliveryClaimed, false},
		{DeliveryUnknown, DeliverySkipped, false},
	} {
		if got := c.from.Advances(c.to); got != c.want {
			t.Errorf("%s → %s: %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
