// Package geo owns tiffin's geometry: WGS84 coordinates (LatLng), great-circle distance,
// bearing and movement on a spherical Earth, the H3 regions that shard the city (Regioner),
// and the built-in travel-time model (haversine × circuity / vehicle speed).
package geo

import (
	"fmt"
	"math"
)

// EarthRadius is the mean Earth radius in metres (IUGG R1) used by every spherical formula here.
const EarthRadius = 6371008.8

// LatLng is a WGS84 coordinate in degrees.
type LatLng struct{ Lat, Lng float64 }

// Valid reports whether p is a real coordinate: finite, latitude in [-90, 90] and longitude in
// [-180, 180].
func (p LatLng) Valid() bool {
	// NaN fails every comparison and ±Inf is out of range, so the range checks cover both.
	return p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180
}

// String formats p as "lat,lng" with six decimals (about 0.1 m).
func (p LatLng) String() string { return fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lng) }

// Distance returns the great-circle distance between a and b in metres on a sphere of
// EarthRadius: the haversine distance, computed in the equivalent atan2 form, which stays
// accurate for nearly antipodal points where the textbook haversine loses precision.
func Distance(a, b LatLng) float64 {
	φ1, φ2 := rad(a.Lat), rad(b.Lat)
	sinφ1, cosφ1 := math.Sincos(φ1)
	sinφ2, cosφ2 := math.Sincos(φ2)
	sinΔλ, cosΔλ := math.Sincos(rad(b.Lng - a.Lng))
	y := math.Hypot(cosφ2*sinΔλ, cosφ1*sinφ2-sinφ1*cosφ2*cosΔλ)
	x := sinφ1*sinφ2 + cosφ1*cosφ2*cosΔλ
	return EarthRadius * math.Atan2(y, x)
}

// Bearing returns the initial bearing of the great circle from a to b, in degrees clockwise
// from true north in [0, 360). It is 0 when a and b coincide.
func Bearing(a, b LatLng) float64 {
	φ1, φ2 := rad(a.Lat), rad(b.Lat)
	dλ := rad(b.Lng - a.Lng)
	y := math.Sin(dλ) * math.Cos(φ2)
	x := math.Cos(φ1)*math.Sin(φ2) - math.Sin(φ1)*math.Cos(φ2)*math.Cos(dλ)
	return normBearing(deg(math.Atan2(y, x)))
}

// Move returns the point reached by travelling metres from from along the great circle that
// starts at bearingDeg (degrees clockwise from north). A negative distance travels backwards.
// metres and bearingDeg must be finite.
func Move(from LatLng, bearingDeg, metres float64) LatLng {
	p := toVec(from)
	north, east := frame(from)
	θ := rad(bearingDeg)
	dir := north.scale(math.Cos(θ)).add(east.scale(math.Sin(θ)))
	δ := metres / EarthRadius
	return p.scale(math.Cos(δ)).add(dir.scale(math.Sin(δ))).latLng()
}

// Toward returns the point metres along the great circle from from to to. It never overshoots:
// when to is metres or less away the result is to itself, and a distance that is not positive
// leaves the result at from. The simulator moves couriers with it.
func Toward(from, to LatLng, metres float64) LatLng {
	if !(metres > 0) { // also catches NaN
		return from
	}
	d := Distance(from, to)
	if metres >= d {
		return to
	}
	p, q := toVec(from), toVec(to)
	// The unit tangent at p pointing along the great circle to q.
	dir := q.sub(p.scale(p.dot(q)))
	if n := dir.norm(); n > 1e-12 {
		δ := metres / EarthRadius
		return p.scale(math.Cos(δ)).add(dir.scale(math.Sin(δ) / n)).latLng()
	}
	// from and to are (nearly) antipodal: every great circle through them is as short, so
	// follow the initial bearing.
	return Move(from, Bearing(from, to), metres)
}

// vec is a point or direction in Earth-centred Cartesian coordinates on the unit sphere.
type vec struct{ x, y, z float64 }

func toVec(p LatLng) vec {
	φ, λ := rad(p.Lat), rad(p.Lng)
	return vec{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

// frame returns the unit north and east tangents at p. At a pole they are taken relative to
// p's longitude, matching the convention Bearing uses there.
func frame(p LatLng) (north, east vec) {
	φ, λ := rad(p.Lat), rad(p.Lng)
	north = vec{-math.Sin(φ) * math.Cos(λ), -math.Sin(φ) * math.Sin(λ), math.Cos(φ)}
	east = vec{-math.Sin(λ), math.Cos(λ), 0}
	return north, east
}

func (v vec) latLng() LatLng {
	lat := deg(math.Atan2(v.z, math.Hypot(v.x, v.y)))
	lng := deg(math.Atan2(v.y, v.x))
	return LatLng{Lat: math.Min(math.Max(lat, -90), 90), Lng: math.Min(math.Max(lng, -180), 180)}
}

func (v vec) add(w vec) vec       { return vec{v.x + w.x, v.y + w.y, v.z + w.z} }
func (v vec) sub(w vec) vec       { return vec{v.x - w.x, v.y - w.y, v.z - w.z} }
func (v vec) scale(k float64) vec { return vec{v.x * k, v.y * k, v.z * k} }
func (v vec) dot(w vec) float64   { return v.x*w.x + v.y*w.y + v.z*w.z }
func (v vec) norm() float64       { return math.Sqrt(v.dot(v)) }
func rad(d float64) float64       { return d * math.Pi / 180 }
func deg(r float64) float64       { return r * 180 / math.Pi }
func sq(x float64) float64        { return x * x }
func normBearing(b float64) float64 {
	b = math.Mod(b, 360)
	if b < 0 {
		b += 360
	}
	if b >= 360 { // -tiny + 360 rounds to 360
		b = 0
	}
	return b
}
