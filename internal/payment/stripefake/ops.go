package stripefake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// write runs a POST endpoint with s.mu held. keep says whether the endpoint began executing,
// so its answer is kept under the request's idempotency key; parameter errors keep nothing.
func (s *Server) write(op Op, id string, f form) (reply, bool) {
	switch op {
	case OpCreate:
		return s.create(f)
	case OpCapture:
		return s.capture(id, f)
	case OpCancel:
		return s.cancel(id, f)
	case OpRefund:
		return s.refund(f)
	}
	return errorReply(errInvalid("", "", "unsupported")), false
}

// read runs a GET endpoint with s.mu held.
func (s *Server) read(op Op, id string, f form) reply {
	switch op {
	case OpRetrieve:
		if k, bad := f.unknown("expand", "client_secret"); bad {
			return errorReply(unknownParam(k))
		}
		pi, ok := s.intents[id]
		if !ok {
			return errorReply(noSuchIntent(id, ""))
		}
		return jsonReply(http.StatusOK, pi.json())
	case OpSearch:
		return s.search(f)
	case OpList:
		return s.list(f)
	case OpListRefunds:
		return s.listRefunds(f)
	}
	return errorReply(errInvalid("", "", "unsupported"))
}

func unknownParam(k string) *apiError {
	return errInvalid("parameter_unknown", k, "Received unknown parameter: "+k)
}

func noSuchIntent(id, param string) *apiError {
	e := errInvalid("resource_missing", param, "No such payment_intent: '"+id+"'")
	e.status = http.StatusNotFound
	return e
}

func unexpectedState(pi *intent, verb string, allowed ...string) *apiError {
	return errInvalid("payment_intent_unexpected_state", "", fmt.Sprintf(
		"This PaymentIntent could not be %s because it has a status of %s. Only a PaymentIntent with one of the following statuses may be %s: %s.",
		verb, pi.status, verb, strings.Join(allowed, ", ")))
}

func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_fake%08d", prefix, s.seq)
}

func (s *Server) create(f form) (reply, bool) {
	if k, bad := f.unknown("amount", "currency", "capture_method", "confirm", "payment_method", "payment_method_types", "metadata", "description", "expand"); bad {
		return errorReply(unknownParam(k)), false
	}
	amount, given, err := f.int("amount")
	switch {
	case !given:
		return errorReply(errInvalid("parameter_missing", "amount", "Missing required param: amount.")), false
	case err != nil || amount < 1 || amount > 99_999_999:
		return errorReply(errInvalid("parameter_invalid_integer", "amount", "Invalid amount: it must be a positive integer of at most 8 digits.")), false
	}
	currency, _ := f.str("currency")
	if len(currency) != 3 || strings.ToLower(currency) != currency || strings.IndexFunc(currency, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
		return errorReply(errInvalid("parameter_invalid", "currency", "Invalid currency: "+currency)), false
	}
	method, _ := f.str("capture_method")
	switch method {
	case "":
		method = "automatic"
	case "manual", "automatic", "automatic_async":
	default:
		return errorReply(errInvalid("parameter_invalid", "capture_method", "Invalid capture_method: "+method)), false
	}
	confirm, err := f.bool("confirm")
	if err != nil {
		return errorReply(errInvalid("parameter_invalid", "confirm", err.Error())), false
	}
	pm, _ := f.str("payment_method")
	if confirm && pm == "" {
		return errorReply(errInvalid("parameter_missing", "payment_method", "You must provide a payment_method to confirm this PaymentIntent.")), false
	}
	types, err := f.list("payment_method_types")
	if err != nil || slices.ContainsFunc(types, func(t string) bool { return t != "card" }) {
		return errorReply(errInvalid("parameter_invalid", "payment_method_types", "Only card is supported.")), false
	}
	md := f.hash("metadata")
	if e := checkMetadata(md); e != nil {
		return errorReply(e), false
	}
	pi := &intent{
		id: s.newID("pi"), amount: amount, currency: currency, captureMethod: method, paymentMethod: pm,
		status: statusRequiresPaymentMethod, metadata: md, created: s.cfg.Now(),
	}
	if pm != "" {
		pi.status = statusRequiresConfirmation
	}
	s.intents[pi.id] = pi
	pi.seq = len(s.order)
	s.order = append(s.order, pi)
	if s.byMetadata == nil {
		s.byMetadata = map[string][]*intent{}
	}
	for k, v := range md { // metadata is set at creation only
		s.byMetadata[metaKey(k, v)] = append(s.byMetadata[metaKey(k, v)], pi)
	}
	if !confirm {
		return jsonReply(http.StatusOK, pi.json()), true
	}
	pi.charge = s.newID("ch")
	if s.declineNext > 0 || strings.Contains(pm, "chargeDeclined") {
		if s.declineNext > 0 {
			s.declineNext--
		}
		pi.status = statusRequiresPaymentMethod
		pi.lastError = &apiError{Type: cardError, Code: "card_declined", DeclineCode: "generic_decline", Message: "Your card was declined."}
		s.effect(pi, Declined)
		e := *pi.lastError
		e.status = http.StatusPaymentRequired
		j := pi.json()
		e.PaymentIntent = &j
		return errorReply(&e), true
	}
	s.effect(pi, Authorized)
	if method == "manual" {
		pi.status, pi.capturable = statusRequiresCapture, amount
	} else {
		pi.status, pi.received = statusSucceeded, amount
		s.effect(pi, Captured)
	}
	return jsonReply(http.StatusOK, pi.json()), true
}

func checkMetadata(md map[string]string) *apiError {
	if len(md) > 50 {
		return errInvalid("parameter_invalid", "metadata", "Metadata can have at most 50 keys.")
	}
	for k, v := range md {
		if k == "" || len(k) > maxMetaKeyLen || len(v) > maxMetaValLen {
			return errInvalid("parameter_invalid", "metadata["+k+"]", "Metadata keys are 1 to 40 characters and values at most 500.")
		}
	}
	return nil
}

func (s *Server) capture(id string, f form) (reply, bool) {
	if k, bad := f.unknown("amount_to_capture", "expand", "metadata"); bad {
		return errorReply(unknownParam(k)), false
	}
	amount, given, err := f.int("amount_to_capture")
	if err != nil || (given && amount < 1) {
		return errorReply(errInvalid("parameter_invalid_integer", "amount_to_capture", "Invalid amount_to_capture.")), false
	}
	pi, ok := s.intents[id]
	if !ok {
		return errorReply(noSuchIntent(id, "")), true
	}
	if pi.status != statusRequiresCapture {
		return errorReply(unexpectedState(pi, "captured", statusRequiresCapture)), true
	}
	if !given {
		amount = pi.capturable
	}
	if amount > pi.capturable {
		return errorReply(errInvalid("amount_too_large", "amount_to_capture", fmt.Sprintf(
			"The amount to capture (%d) is greater than the amount capturable (%d).", amount, pi.capturable))), true
	}
	pi.status, pi.received, pi.capturable = statusSucceeded, amount, 0
	s.effect(pi, Captured)
	return jsonReply(http.StatusOK, pi.json()), true
}

func (s *Server) cancel(id string, f form) (reply, bool) {
	if k, bad := f.unknown("cancellation_reason", "expand"); bad {
		return errorReply(unknownParam(k)), false
	}
	reason, _ := f.str("cancellation_reason")
	switch reason {
	case "", "duplicate", "fraudulent", "requested_by_customer", "abandoned":
	default:
		return errorReply(errInvalid("parameter_invalid", "cancellation_reason", "Invalid cancellation_reason: "+reason)), false
	}
	pi, ok := s.intents[id]
	if !ok {
		return errorReply(noSuchIntent(id, "")), true
	}
	switch pi.status {
	case statusRequiresPaymentMethod, statusRequiresConfirmation, statusRequiresCapture:
	default:
		return errorReply(unexpectedState(pi, "canceled", statusRequiresPaymentMethod, statusRequiresCapture, statusRequiresConfirmation)), true
	}
	pi.status, pi.capturable, pi.cancelReason, pi.canceledAt = statusCanceled, 0, reason, s.cfg.Now().Unix()
	s.effect(pi, Canceled)
	return jsonReply(http.StatusOK, pi.json()), true
}

func (s *Server) refund(f form) (reply, bool) {
	if k, bad := f.unknown("payment_intent", "amount", "metadata", "reason", "expand"); bad {
		return errorReply(unknownParam(k)), false
	}
	id, _ := f.str("payment_intent")
	if id == "" {
		return errorReply(errInvalid("parameter_missing", "payment_intent", "Missing required param: payment_intent.")), false
	}
	amount, given, err := f.int("amount")
	if err != nil || (given && amount < 1) {
		return errorReply(errInvalid("parameter_invalid_integer", "amount", "Invalid amount.")), false
	}
	md := f.hash("metadata")
	if e := checkMetadata(md); e != nil {
		return errorReply(e), false
	}
	reason, _ := f.str("reason")
	switch reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		return errorReply(errInvalid("parameter_invalid", "reason", "Invalid reason: "+reason)), false
	}
	pi, ok := s.intents[id]
	if !ok {
		return errorReply(noSuchIntent(id, "payment_intent")), true
	}
	if pi.status != statusSucceeded {
		return errorReply(errInvalid("charge_not_refundable", "payment_intent", fmt.Sprintf(
			"This PaymentIntent (%s) does not have a successful charge to refund.", pi.id))), true
	}
	left := pi.received - pi.refunded
	if left == 0 {
		return errorReply(errInvalid("charge_already_refunded", "", "Charge "+pi.charge+" has already been refunded.")), true
	}
	if !given {
		amount = left
	}
	if amount > left {
		return errorReply(errInvalid("amount_too_large", "amount", fmt.Sprintf(
			"Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, left))), true
	}
	re := &refund{id: s.newID("re"), amount: amount, currency: pi.currency, intent: pi.id, charge: pi.charge,
		status: "succeeded", metadata: md, created: s.cfg.Now()}
	pi.refunded += amount
	s.refunds = append(s.refunds, re)
	pi.refunds = append(pi.refunds, re)
	s.effect(pi, Refunded)
	return jsonReply(http.StatusOK, re.json()), true
}
