package mdrp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// The four files of an instance directory.
const (
	RestaurantsFile = "restaurants.txt"
	OrdersFile      = "orders.txt"
	CouriersFile    = "couriers.txt"
	ParamsFile      = "instance_parameters.txt"
)

// Errors a caller of Read may branch on; they arrive wrapped in a *ParseError.
var (
	ErrUnknownRestaurant = errors.New("unknown restaurant")
	ErrDuplicateID       = errors.New("duplicate id")
)

// ParseError is a bad line of an instance file.
type ParseError struct {
	File  string // base name, e.g. orders.txt
	Line  int    // 1-based; the header is line 1
	Field string // column name; empty when the problem is the whole line
	Err   error
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Field, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ReadAll reads every instance directory directly under dir (or linked from it), sorted by
// name; plain files (a README) are skipped.
func ReadAll(dir string) ([]*Instance, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}
	var out []*Instance
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			continue
		}
		inst, err := Read(path)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read instances: no instance directories in %s", dir)
	}
	return out, nil
}

// Read reads one instance directory: restaurants.txt, orders.txt, couriers.txt and
// instance_parameters.txt, each tab-separated with a header line naming its columns (columns
// are found by name; extra ones are ignored; blank lines are skipped).
//
// Ids must be unique across the three files, free of white space and not "0", because the
// evaluator keeps them in one table, the solution files are space-separated and 0 names a
// courier's start there. Times are whole minutes. A shift must have a positive length (pay and
// utilisation divide by it) and the service times must be even, so that half of one is a whole
// minute. A bad line is a *ParseError naming the file, line and column (ErrUnknownRestaurant
// and ErrDuplicateID inside it when that is the problem); a missing file wraps fs.ErrNotExist.
func Read(dir string) (*Instance, error) {
	inst := &Instance{Name: filepath.Base(filepath.Clean(dir))}
	ids := make(map[string]string)
	var err error
	inst.Restaurants, err = parseFile(dir, RestaurantsFile, func(r io.Reader) ([]Restaurant, error) {
		return parseRestaurants(r, ids)
	})
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", dir, err)
	}
	index := make(map[string]int, len(inst.Restaurants))
	for i, r := range inst.Restaurants {
		index[r.ID] = i
	}
	inst.Orders, err = parseFile(dir, OrdersFile, func(r io.Reader) ([]Order, error) {
		return parseOrders(r, index, ids)
	})
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", dir, err)
	}
	inst.Couriers, err = parseFile(dir, CouriersFile, func(r io.Reader) ([]Courier, error) {
		return parseCouriers(r, ids)
	})
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", dir, err)
	}
	inst.Params, err = parseFile(dir, ParamsFile, parseParams)
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", dir, err)
	}
	return inst, nil
}

// parseFile opens dir/name and parses it.
func parseFile[T any](dir, name string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(filepath.Join(dir, name)) // #nosec G304 -- an instance file in the directory the operator names (--instances)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}

// parseRestaurants reads restaurants.txt; ids maps each id already defined to where.
func parseRestaurants(r io.Reader, ids map[string]string) ([]Restaurant, error) {
	var out []Restaurant
	err := scanTable(r, RestaurantsFile, []string{"restaurant", "x", "y"}, func(rec record) error {
		id, err := rec.id("restaurant", ids)
		if err != nil {
			return err
		}
		at, err := rec.point("x", "y")
		if err != nil {
			return err
		}
		out = append(out, Restaurant{ID: id, At: at})
		return nil
	})
	return out, err
}

// parseOrders reads orders.txt; restaurants maps a restaurant id to its index.
func parseOrders(r io.Reader, restaurants map[string]int, ids map[string]string) ([]Order, error) {
	var out []Order
	cols := []string{"order", "x", "y", "placement_time", "restaurant", "ready_time"}
	err := scanTable(r, OrdersFile, cols, func(rec record) error {
		id, err := rec.id("order", ids)
		if err != nil {
			return err
		}
		o := Order{ID: id}
		if o.Dropoff, err = rec.point("x", "y"); err != nil {
			return err
		}
		if o.Placed, err = rec.minute("placement_time"); err != nil {
			return err
		}
		if o.Ready, err = rec.minute("ready_time"); err != nil {
			return err
		}
		rid := rec.text("restaurant")
		i, ok := restaurants[rid]
		if !ok {
			return rec.errorf("restaurant", "%w %q", ErrUnknownRestaurant, rid)
		}
		o.Restaurant = i
		out = append(out, o)
		return nil
	})
	return out, err
}

// parseCouriers reads couriers.txt.
func parseCouriers(r io.Reader, ids map[string]string) ([]Courier, error) {
	var out []Courier
	cols := []string{"courier", "x", "y", "on_time", "off_time"}
	err := scanTable(r, CouriersFile, cols, func(rec record) error {
		id, err := rec.id("courier", ids)
		if err != nil {
			return err
		}
		c := Courier{ID: id}
		if c.Start, err = rec.point("x", "y"); err != nil {
			return err
		}
		if c.On, err = rec.minute("on_time"); err != nil {
			return err
		}
		if c.Off, err = rec.minute("off_time"); err != nil {
			return err
		}
		if c.Off <= c.On {
			return rec.errorf("off_time", "shift ends at %d, not after it starts at %d", c.Off, c.On)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// parseParams reads instance_parameters.txt: a header and exactly one line of values.
func parseParams(r io.Reader) (Params, error) {
	var p Params
	lines := 0
	cols := []string{"meters_per_minute", "pickup service minutes", "dropoff service minutes",
		"target click-to-door", "maximum click-to-door", "pay per order", "guaranteed pay per hour"}
	err := scanTable(r, ParamsFile, cols, func(rec record) error {
		if lines++; lines > 1 {
			return rec.errorf("", "more than one line of parameters")
		}
		var err error
		if p.MetersPerMinute, err = rec.number(cols[0]); err != nil {
			return err
		}
		if p.MetersPerMinute <= 0 {
			return rec.errorf(cols[0], "%v is not positive", p.MetersPerMinute)
		}
		if p.PickupService, err = rec.service(cols[1]); err != nil {
			return err
		}
		if p.DropoffService, err = rec.service(cols[2]); err != nil {
			return err
		}
		if p.TargetClickToDoor, err = rec.minute(cols[3]); err != nil {
			return err
		}
		if p.MaxClickToDoor, err = rec.minute(cols[4]); err != nil {
			return err
		}
		if p.PayPerOrder, err = rec.money(cols[5]); err != nil {
			return err
		}
		p.GuaranteedPerHour, err = rec.money(cols[6])
		return err
	})
	if err == nil && lines == 0 {
		err = &ParseError{File: ParamsFile, Line: 2, Err: errors.New("no line of parameters")}
	}
	return p, err
}

// record is one data line of a table, its fields found by column name.
type record struct {
	file   string
	line   int
	cols   map[string]int
	fields []string
}

func (r record) errorf(field, format string, args ...any) error {
	return &ParseError{File: r.file, Line: r.line, Field: field, Err: fmt.Errorf(format, args...)}
}

func (r record) text(col string) string { return r.fields[r.cols[col]] }

// id reads an id column and records it in ids, refusing one already defined.
func (r record) id(col string, ids map[string]string) (string, error) {
	id := r.text(col)
	switch {
	case id == "":
		return "", r.errorf(col, "empty id")
	case strings.ContainsFunc(id, unicode.IsSpace):
		return "", r.errorf(col, "id %q contains white space", id)
	case id == "0":
		return "", r.errorf(col, "id 0 is reserved: solution files use it for a courier's start")
	}
	if where, ok := ids[id]; ok {
		return "", r.errorf(col, "%w %q, first defined at %s", ErrDuplicateID, id, where)
	}
	ids[id] = fmt.Sprintf("%s:%d", r.file, r.line)
	return id, nil
}

// number reads a finite decimal number.
func (r record) number(col string) (float64, error) {
	v, err := strconv.ParseFloat(r.text(col), 64)
	if err != nil {
		return 0, &ParseError{File: r.file, Line: r.line, Field: col, Err: err}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, r.errorf(col, "%q is not a finite number", r.text(col))
	}
	return v, nil
}

// minute reads a whole number of minutes.
func (r record) minute(col string) (int, error) {
	v, err := strconv.Atoi(r.text(col))
	if err != nil {
		return 0, &ParseError{File: r.file, Line: r.line, Field: col, Err: err}
	}
	return v, nil
}

// service reads a service time: whole, not negative and even, so that half of it is a whole
// minute.
func (r record) service(col string) (int, error) {
	v, err := r.minute(col)
	switch {
	case err != nil:
		return 0, err
	case v < 0:
		return 0, r.errorf(col, "%d is negative", v)
	case v%2 != 0:
		return 0, r.errorf(col, "%d is odd: half of it would not be a whole minute", v)
	}
	return v, nil
}

// money reads an amount that is not negative.
func (r record) money(col string) (float64, error) {
	v, err := r.number(col)
	if err == nil && v < 0 {
		err = r.errorf(col, "%v is negative", v)
	}
	return v, err
}

func (r record) point(xcol, ycol string) (Point, error) {
	x, err := r.number(xcol)
	if err != nil {
		return Point{}, err
	}
	y, err := r.number(ycol)
	if err != nil {
		return Point{}, err
	}
	return Point{X: x, Y: y}, nil
}

// scanTable reads a tab-separated table whose header names at least the columns need, calling
// row for each non-blank line after it.
func scanTable(r io.Reader, file string, need []string, row func(record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	rec := record{file: file}
	for sc.Scan() {
		rec.line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if rec.line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if strings.TrimSpace(text) == "" {
			if rec.line == 1 {
				return rec.errorf("", "empty header line")
			}
			continue
		}
		fields := strings.Split(text, "\t")
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
		}
		if rec.cols == nil {
			cols, err := header(fields, need)
			if err != nil {
				return &ParseError{File: file, Line: rec.line, Err: err}
			}
			rec.cols = cols
			continue
		}
		if len(fields) != len(rec.cols) {
			return rec.errorf("", "%d tab-separated fields, the header has %d", len(fields), len(rec.cols))
		}
		rec.fields = fields
		if err := row(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{File: file, Line: rec.line + 1, Err: err}
	}
	if rec.cols == nil {
		return &ParseError{File: file, Line: 1, Err: errors.New("no header line")}
	}
	return nil
}

// header maps each column name to its index, requiring the names in need.
func header(names, need []string) (map[string]int, error) {
	cols := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := cols[n]; dup {
			return nil, fmt.Errorf("header names column %q twice", n)
		}
		cols[n] = i
	}
	for _, n := range need {
		if _, ok := cols[n]; !ok {
			return nil, fmt.Errorf("header has no column %q (want %s)", n, strings.Join(need, ", "))
		}
	}
	return cols, nil
}
