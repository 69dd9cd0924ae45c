package geo

import (
	"fmt"

	"github.com/uber/h3-go/v4"
)

// DefaultResolution is the H3 resolution a zero Regioner uses: cells of about 250 km², a few per
// city, which is the unit of sharding.
const DefaultResolution = 5

// MaxNeighbourRing bounds k in Regioner.Neighbours; a disk of radius k holds 3k(k+1)+1 cells.
const MaxNeighbourRing = 100

// Regioner maps coordinates to regions: H3 cells, named by their hex index string. The zero
// value uses DefaultResolution.
type Regioner struct {
	// Resolution is the H3 resolution, 0 (coarsest) to 15. Zero means DefaultResolution.
	Resolution int
}

func (r Regioner) resolution() int {
	if r.Resolution == 0 {
		return DefaultResolution
	}
	return r.Resolution
}

// Region returns the region containing p.
func (r Regioner) Region(p LatLng) (string, error) {
	if !p.Valid() {
		return "", fmt.Errorf("geo: region of invalid point %v", p)
	}
	c, err := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), r.resolution())
	if err != nil {
		return "", fmt.Errorf("geo: region of %v at resolution %d: %w", p, r.resolution(), err)
	}
	return c.String(), nil
}

// Neighbours returns the regions within k steps of region, region itself included (an H3 grid
// disk: 7 cells for k=1 away from pentagons). k must be in [0, MaxNeighbourRing].
func (r Regioner) Neighbours(region string, k int) ([]string, error) {
	if k < 0 || k > MaxNeighbourRing {
		return nil, fmt.Errorf("geo: neighbours of %s: ring %d outside [0, %d]", region, k, MaxNeighbourRing)
	}
	c := h3.CellFromString(region)
	if !c.IsValid() {
		return nil, fmt.Errorf("geo: neighbours: %q is not a region", region)
	}
	cells, err := c.GridDisk(k)
	if err != nil {
		return nil, fmt.Errorf("geo: neighbours of %s: %w", region, err)
	}
	out := make([]string, 0, len(cells))
	for _, n := range cells {
		if n != 0 {
			out = append(out, n.String())
		}
	}
	return out, nil
}

// AreaResolution is the H3 resolution of the area an address is shown as before it is
// revealed (about 5 km² a cell, 1.2 km from centre to edge).
const AreaResolution = 7

// Area returns the H3 cell at resolution res that holds p and the cell's centre: where p is,
// without saying exactly where.
func Area(p LatLng, res int) (cell string, centre LatLng, err error) {
	c, err := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), res)
	if err != nil {
		return "", LatLng{}, fmt.Errorf("geo: area of %v at resolution %d: %w", p, res, err)
	}
	ll, err := c.LatLng()
	if err != nil {
		return "", LatLng{}, fmt.Errorf("geo: centre of %s: %w", c, err)
	}
	return c.String(), LatLng{Lat: ll.Lat, Lng: ll.Lng}, nil
}
