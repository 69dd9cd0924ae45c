package mdrp

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
)

// FuzzParse feeds the same bytes to each instance file's parser: none may panic, and what one
// accepts must be usable (indexes in range, shifts of positive length).
func FuzzParse(f *testing.F) {
	for _, content := range tinyFiles {
		f.Add([]byte(content))
	}
	f.Add([]byte("order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1e308\t-0\t-5\tr1\t9999999999999999999\n"))
	f.Add([]byte("\ufeffrestaurant\tx\ty\r\nr1\t0x10\t1_0\r\n"))
	f.Add([]byte("courier\tx\ty\ton_time\toff_time\n\tc1\t\t\t\t\t\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseRestaurants(bytes.NewReader(data), make(map[string]string))
		if err == nil {
			for _, r := range rs {
				if r.ID == "" || strings.ContainsFunc(r.ID, unicode.IsSpace) {
					t.Errorf("restaurant id %q", r.ID)
				}
			}
		}
		index := map[string]int{"r1": 0, "r2": 1}
		orders, err := parseOrders(bytes.NewReader(data), index, make(map[string]string))
		if err == nil {
			for _, o := range orders {
				if o.Restaurant < 0 || o.Restaurant > 1 {
					t.Errorf("order %s: restaurant index %d", o.ID, o.Restaurant)
				}
			}
		}
		couriers, err := parseCouriers(bytes.NewReader(data), make(map[string]string))
		if err == nil {
			for _, c := range couriers {
				if c.Off <= c.On {
					t.Errorf("courier %s: shift %d-%d", c.ID, c.On, c.Off)
				}
			}
		}
		p, err := parseParams(bytes.NewReader(data))
		if err == nil && (p.MetersPerMinute <= 0 || p.PickupService%2 != 0 || p.DropoffService%2 != 0) {
			t.Errorf("accepted parameters %+v", p)
		}
	})
}
