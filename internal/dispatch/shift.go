package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Shift is a courier starting or ending a shift.
type Shift struct {
	OnShift bool     `json:"on_shift" doc:"true to start taking offers, false to stop"`
	Vehicle string   `json:"vehicle,omitempty" enum:"bike,scooter,car,walk" doc:"what the courier rides; kept when omitted (default bike)"`
	Lat     *float64 `json:"lat,omitempty" minimum:"-90" maximum:"90" doc:"current position, with lng"`
	Lng     *float64 `json:"lng,omitempty" minimum:"-180" maximum:"180" doc:"current position, with lat"`
	// EndsAt is when the shift ends: no offer is made whose pickup would fall after it.
	EndsAt *time.Time `json:"ends_at,omitempty" doc:"when the shift ends (RFC 3339); no offer's pickup falls after it. Omitted: kept when already on shift, else open-ended"`
}

// Courier is a courier's shift state.
type Courier struct {
	ID       string     `json:"id"`
	Status   string     `json:"status" enum:"off,available,offered,busy"`
	Vehicle  string     `json:"vehicle"`
	OnShift  bool       `json:"on_shift"`
	Position *Point     `json:"position,omitempty"`
	Region   string     `json:"region,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
}

var courierIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func (sh Shift) validate(now time.Time) (*geo.LatLng, error) {
	if sh.EndsAt != nil && sh.OnShift && !sh.EndsAt.After(now) {
		return nil, fault.Field("body.ends_at", nil, "must be in the future")
	}
	switch sh.Vehicle {
	case "", geo.Bike, geo.Scooter, geo.Car, geo.Walk:
	default:
		return nil, fault.Field("body.vehicle", sh.Vehicle, "must be bike, scooter, car or walk")
	}
	if (sh.Lat == nil) != (sh.Lng == nil) {
		if sh.Lat == nil {
			return nil, fault.Field("body.lat", nil, "must be given with lng")
		}
		return nil, fault.Field("body.lng", nil, "must be given with lat")
	}
	if sh.Lat == nil {
		return nil, nil
	}
	p := geo.LatLng{Lat: *sh.Lat, Lng: *sh.Lng}
	if !(p.Lat >= -90 && p.Lat <= 90) {
		return nil, fault.Field("body.lat", p.Lat, "must be between -90 and 90")
	}
	if !p.Valid() {
		return nil, fault.Field("body.lng", p.Lng, "must be between -180 and 180")
	}
	return &p, nil
}

// SetShift starts or ends courierID's shift, creating the courier on first use. Starting makes
// an off courier available (a courier already on shift keeps its status). Ending is refused
// with ErrBusy while the courier carries a delivery; an offer it holds goes back to pending and
// is offered to someone else.
func (s *Service) SetShift(ctx context.Context, courierID string, sh Shift) (Courier, error) {
	if !courierIDPattern.MatchString(courierID) {
		return Courier{}, ErrInvalidCourierID
	}
	pos, err := sh.validate(s.cfg.Now())
	if err != nil {
		return Courier{}, err
	}
	var region string
	if pos != nil {
		if region, err = s.cfg.Regions.Region(*pos); err != nil {
			return Courier{}, fault.Field("body.lat", pos.Lat, "no region for this position")
		}
	}
	var out Courier
	var returned string // region of the offer handed back
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		ms := store.Now(now)
		if _, err := tx.ExecContext(ctx, `INSERT INTO couriers (id, status, updated_at) VALUES ($1, 'off', $2)
			ON CONFLICT (id) DO NOTHING`, courierID, ms); err != nil {
			return fmt.Errorf("dispatch: create courier %s: %w", courierID, err)
		}
		if err := lockCourier(ctx, tx, courierID); err != nil {
			return err
		}
		if sh.Vehicle != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE couriers SET vehicle = $1 WHERE id = $2`, sh.Vehicle, courierID); err != nil {
				return fmt.Errorf("dispatch: courier %s vehicle: %w", courierID, err)
			}
		}
		if pos != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE couriers SET lat = $1, lng = $2, region = $3 WHERE id = $4`,
				pos.Lat, pos.Lng, region, courierID); err != nil {
				return fmt.Errorf("dispatch: courier %s position: %w", courierID, err)
			}
		}
		if sh.OnShift {
			if _, err := tx.ExecContext(ctx, `UPDATE couriers SET status = 'available', shift_started_at = $1, shift_ends_at = NULL
				WHERE id = $2 AND status = 'off'`, ms, courierID); err != nil {
				return fmt.Errorf("dispatch: courier %s on shift: %w", courierID, err)
			}
			// A shift whose end has passed is over: going on shift starts a new one.
			if _, err := tx.ExecContext(ctx, `UPDATE couriers SET shift_started_at = $1, shift_ends_at = NULL
				WHERE id = $2 AND shift_ends_at IS NOT NULL AND shift_ends_at <= $3`, ms, courierID, ms); err != nil {
				return fmt.Errorf("dispatch: courier %s new shift: %w", courierID, err)
			}
			if sh.EndsAt != nil {
				if _, err := tx.ExecContext(ctx, `UPDATE couriers SET shift_ends_at = $1 WHERE id = $2`,
					store.Now(*sh.EndsAt), courierID); err != nil {
					return fmt.Errorf("dispatch: courier %s shift end: %w", courierID, err)
				}
				// An offer whose pickup falls after the new end is withdrawn.
				var err error
				if returned, err = s.withdrawOpenOffer(ctx, tx, courierID, *sh.EndsAt); err != nil {
					return err
				}
			}
		} else {
			var err error
			if returned, err = s.endShift(ctx, tx, courierID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE couriers SET updated_at = $1 WHERE id = $2`, ms, courierID); err != nil {
			return fmt.Errorf("dispatch: courier %s: %w", courierID, err)
		}
		out, err = readCourier(ctx, tx, courierID)
		return err
	})
	if err != nil {
		return Courier{}, err
	}
	switch {
	case !sh.OnShift:
		s.mu.Lock()
		delete(s.positions, courierID)
		s.mu.Unlock()
	case pos != nil:
		s.setPosition(courierID, *pos, s.cfg.Now())
	}
	if returned != "" {
		s.cfg.Metrics.Offers.WithLabelValues("withdrawn").Inc()
		s.poke(returned)
	}
	if sh.OnShift {
		s.pokeAll()
	}
	return out, nil
}

// endShift takes courierID off shift in tx, withdrawing an offer it holds (its orders go back
// to pending); it returns that offer's region, if any. It is refused with ErrBusy while the
// courier is on a route.
func (s *Service) endShift(ctx context.Context, tx *store.Tx, courierID string) (string, error) {
	if _, err := getDelivery(ctx, tx, `courier_id = $1 AND status IN ('assigned', 'picked_up')`, courierID); err == nil {
		return "", ErrBusy
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	returned, err := s.withdrawOpenOffer(ctx, tx, courierID, time.Time{})
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE couriers SET status = 'off', shift_started_at = NULL, shift_ends_at = NULL WHERE id = $1`, courierID); err != nil {
		return "", fmt.Errorf("dispatch: courier %s off shift: %w", courierID, err)
	}
	return returned, nil
}

// withdrawOpenOffer withdraws in tx the open offer courierID holds, if any (with pickupAfter
// set, only one whose planned pickup falls after it), and returns its region ("" when none).
func (s *Service) withdrawOpenOffer(ctx context.Context, tx *store.Tx, courierID string, pickupAfter time.Time) (string, error) {
	var offerID string
	err := tx.QueryRowContext(ctx, `SELECT id FROM offers WHERE courier_id = $1 AND status = 'open' AND planned_pickup_at > $2`,
		courierID, store.Now(pickupAfter)).Scan(&offerID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("dispatch: read offer of %s: %w", courierID, err)
	}
	return s.releaseTx(ctx, tx, offerID, offerWithdrawn, courierID)
}

func readCourier(ctx context.Context, q store.Querier, id string) (Courier, error) {
	c := Courier{ID: id}
	var lat, lng sql.NullFloat64
	var ends sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT status, vehicle, lat, lng, region, shift_ends_at FROM couriers WHERE id = $1`, id).Scan(
		&c.Status, &c.Vehicle, &lat, &lng, &c.Region, &ends)
	if err != nil {
		return Courier{}, fmt.Errorf("dispatch: read courier %s: %w", id, err)
	}
	c.OnShift = c.Status != CourierOff
	if ends.Valid {
		t := store.Time(ends.Int64)
		c.EndsAt = &t
	}
	if lat.Valid && lng.Valid {
		c.Position = &Point{Lat: lat.Float64, Lng: lng.Float64}
	}
	return c, nil
}
