package bus_test

import (
	"testing"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// newSystemBus opens a bus on a fresh run of the machine's own nats-server (an operator's
// broker, older than the embedded one: the project's machines have 2.9).
func newSystemBus(tb testing.TB) *bus.Bus {
	tb.Helper()
	url, _ := tiffintest.SystemNATS(tb)
	cfg := testConfig(tb, "")
	cfg.URL = url
	return openBus(tb, cfg)
}

// TestSystemNATS runs the consumer, dead-letter, redrive and follow tests against the
// nats-server installed on the machine, not only the embedded server: tiffin must keep its
// promises on the brokers operators run, whose JetStream may lack newer protocol (a reason on
// a terminate, filters on several subjects).
func TestSystemNATS(t *testing.T) {
	t.Parallel()
	if _, version := tiffintest.SystemNATS(t); version != "" {
		t.Logf("nats-server %s", version)
	}
	for name, test := range map[string]func(*testing.T, func(testing.TB) *bus.Bus){
		"ConsumeRedeliversAfterError":       testConsumeRedeliversAfterError,
		"ConsumeResumes":                    testConsumeResumes,
		"PublishDedupes":                    testPublishDedupes,
		"ConsumeDeadLetters":                testConsumeDeadLetters,
		"ConsumeDeadLettersUnansweredTries": testConsumeDeadLettersUnansweredTries,
		"ConsumeExtendsAckDeadline":         testConsumeExtendsAckDeadline,
		"Redrive":                           testRedrive,
		"RedriveFailsAgain":                 testRedriveFailsAgain,
		"Follow":                            testFollow,
	} {
		t.Run(name, func(t *testing.T) { test(t, newSystemBus) })
	}
}
