package postal

import (
	"context"
	"errors"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

func TestSendQueuesInTheRegionsBatch(t *testing.T) {
	tests := []struct {
		region, want string
	}{
		{"IDF", "batch:IDF:lesson-7"},
		{"", "batch:unassigned:lesson-7"},
	}
	for _, tt := range tests {
		m := channels.Message{Lesson: relais.Lesson{ID: 7}, Household: relais.Household{ID: 1, Region: tt.region, PostalAddress: "A\nB"}}
		rc, err := (&Channel{}).Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if rc.ProviderID != tt.want || rc.Status != relais.DeliveryQueued || BatchKey(tt.region, 7) != tt.want {
			t.Errorf("region %q: %+v, want %s queued", tt.region, rc, tt.want)
		}
	}
	_, err := (&Channel{}).Send(context.Background(), channels.Message{Household: relais.Household{ID: 2}})
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Permanent || se.Contact != relais.ContactInvalid {
		t.Errorf("no address: err = %v, want a permanent error marking the contact invalid", err)
	}
}
