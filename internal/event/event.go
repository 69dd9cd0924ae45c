// Package event is the contract between tiffin's services: the NATS subjects they publish on
// and the versioned JSON payloads those messages carry. It holds no logic beyond naming and
// encoding; services meet here, in the store and on the bus, never by importing each other.
package event

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Type names what happened, e.g. "order.placed". Together with a region it forms the subject.
type Type string

// Order events: one per transition into the named status.
const (
	OrderPlaced    Type = "order.placed"
	OrderPaid      Type = "order.paid"
	OrderFailed    Type = "order.failed"
	OrderAccepted  Type = "order.accepted"
	OrderRejected  Type = "order.rejected"
	OrderPreparing Type = "order.preparing"
	OrderReady     Type = "order.ready"
	OrderCancelled Type = "order.cancelled"
	OrderPickedUp  Type = "order.picked_up"
	OrderDelivered Type = "order.delivered"
)

// Delivery events, published by dispatch.
const (
	DeliveryOffered  Type = "delivery.offered"
	DeliveryAssigned Type = "delivery.assigned"
	DeliveryDeclined Type = "delivery.declined"
	DeliveryExpired  Type = "delivery.expired"
)

// Shipment events, published by fulfil when a shipment moves.
const (
	ShipmentBooked    Type = "shipment.booked"
	ShipmentShipped   Type = "shipment.shipped"
	ShipmentDelivered Type = "shipment.delivered"
	ShipmentCancelled Type = "shipment.cancelled"
	ShipmentFailed    Type = "shipment.failed"
)

// PaymentRefunded is published by the order service's payment saga once a captured payment
// has been refunded (the order ended after capture).
const PaymentRefunded Type = "payment.refunded"

// CourierLocation travels on core NATS only: high volume, ephemeral, never in the outbox.
const CourierLocation Type = "courier.location"

// Prefix is the first token of every tiffin subject.
const Prefix = "tiffin"

// Subject returns the subject an event of type t in region travels on:
// tiffin.<region>.<type>, e.g. tiffin.8460145ffffffff.order.placed.
func Subject(region string, t Type) string {
	if region == "" {
		region = "global"
	}
	return Prefix + "." + region + "." + string(t)
}

// SubjectAll returns the wildcard subject matching events of type t in every region.
func SubjectAll(t Type) string { return Prefix + ".*." + string(t) }

// ParseSubject splits a subject made by Subject back into its region and type.
func ParseSubject(subject string) (region string, t Type, err error) {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) != 3 || parts[0] != Prefix || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("event: malformed subject %q", subject)
	}
	return parts[1], Type(parts[2]), nil
}

// Envelope wraps every payload on the bus. ID is unique per event and doubles as the
// JetStream Nats-Msg-Id, so a republished outbox row is dropped by the server's dedupe window
// and recognised by consumers' processed-event records.
type Envelope struct {
	ID      string          `json:"id"`
	Type    Type            `json:"type"`
	Version int             `json:"v"`
	Region  string          `json:"region"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

// Subject is the subject the envelope travels on.
func (e Envelope) Subject() string { return Subject(e.Region, e.Type) }

// New builds an envelope for payload, with a fresh ID. The payload's version is taken from its
// Version method when it has one, else 1.
func New(t Type, region string, at time.Time, payload any) (Envelope, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("event: encode %s: %w", t, err)
	}
	v := 1
	if vp, ok := payload.(interface{ Version() int }); ok {
		v = vp.Version()
	}
	return Envelope{ID: NewID("evt"), Type: t, Version: v, Region: region, Time: at.UTC(), Data: data}, nil
}

// Decode parses an envelope received from the bus.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("event: decode envelope: %w", err)
	}
	if e.ID == "" || e.Type == "" {
		return Envelope{}, fmt.Errorf("event: envelope without id or type")
	}
	return e, nil
}

// Payload decodes the envelope's data into dst.
func (e Envelope) Payload(dst any) error {
	if err := json.Unmarshal(e.Data, dst); err != nil {
		return fmt.Errorf("event: decode %s payload: %w", e.Type, err)
	}
	return nil
}

// NewID returns a random, time-ordered identifier with the given prefix, e.g. "ord_01J...".
// The first 12 hex digits are the unix millisecond time, so IDs sort by creation.
func NewID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	ms := time.Now().UnixMilli()
	return fmt.Sprintf("%s_%012x%x", prefix, ms, b)
}

// IsID reports whether id has the shape of an ID NewID(prefix) returns: the prefix, "_", and
// 32 lowercase hex digits (a few more once the millisecond time outgrows 12 digits).
func IsID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) < 32 || len(rest) > 36 {
		return false
	}
	for _, c := range []byte(rest) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
