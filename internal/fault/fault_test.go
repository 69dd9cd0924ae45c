package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/fault"
)

// TestPublic: what a client is told is the outermost Error's or FieldError's message, or the
// kind's own; wrapping context and causes never are, and errors.Is still finds the kind and
// the sentinel a specific case is made of.
func TestPublic(t *testing.T) {
	t.Parallel()
	errTransition := fault.New(fault.Conflict, "invalid transition")
	driver := errors.New("pq: duplicate key value violates unique constraint \"orders_pkey\"")
	tests := []struct {
		name  string
		err   error
		want  string
		kinds []error
	}{
		{"sentinel", errTransition, "invalid transition", []error{fault.Conflict, errTransition}},
		{"specific case of a sentinel", fmt.Errorf("accept order o-1: %w", fault.Errorf(errTransition, "order is %s, cannot become %s", "placed", "accepted")),
			"order is placed, cannot become accepted", []error{fault.Conflict, errTransition}},
		{"cause kept for the logs", fmt.Errorf("insert: %w", fault.Wrap(fault.Conflict, "the order exists", driver)),
			"the order exists", []error{fault.Conflict, driver}},
		{"outermost wins", fault.Wrap(fault.NotFound, "shipment not found", fault.New(fault.Gone, "inner")), "shipment not found", []error{fault.NotFound, fault.Gone}},
		{"field error", fmt.Errorf("place: %w", fault.Field("body.items[0].quantity", 0, "must be at least %d", 1)),
			"body.items[0].quantity: must be at least 1", []error{fault.Invalid}},
		{"bare kind wrapped", fmt.Errorf("order o-1 not found: %w", fault.NotFound), "not found", []error{fault.NotFound}},
		{"busy", fmt.Errorf("claim: %w", fault.New(fault.Busy, "still in progress")), "still in progress", []error{fault.Busy, fault.Conflict}},
		{"joined", errors.Join(driver, fault.New(fault.Forbidden, "not yours")), "not yours", []error{fault.Forbidden}},
		{"no kind", fmt.Errorf("boom: %w", driver), "", nil},
		{"nil", nil, "", nil},
	}
	for _, tt := range tests {
		if got := fault.Public(tt.err); got != tt.want {
			t.Errorf("%s: Public = %q, want %q", tt.name, got, tt.want)
		}
		for _, k := range tt.kinds {
			if !errors.Is(tt.err, k) {
				t.Errorf("%s: errors.Is(%v, %v) = false, want true", tt.name, tt.err, k)
			}
		}
	}
	if got := fault.Wrap(fault.Conflict, "the order exists", driver).Error(); got != "the order exists: "+driver.Error() {
		t.Errorf("Error() = %q, want the message and the cause, for logs", got)
	}
}
