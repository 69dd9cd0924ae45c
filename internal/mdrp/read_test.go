package mdrp

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRead(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, tinyFiles)
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tinyInstance(), got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// TestReadLenient checks what Read accepts beyond the public files' exact layout: columns in
// another order, extra columns, CRLF line ends, blank lines and fractional coordinates.
func TestReadLenient(t *testing.T) {
	t.Parallel()
	files := maps.Clone(tinyFiles)
	files[RestaurantsFile] = "y\tnote\trestaurant\tx\r\n0\tfirst\tr1\t0\r\n\r\n1000\t\tr2\t0.0\r\n\n"
	dir := t.TempDir()
	writeFiles(t, dir, files)
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := tinyInstance().Restaurants
	if diff := cmp.Diff(want, got.Restaurants); diff != "" {
		t.Errorf("restaurants (-want +got):\n%s", diff)
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		content string
		want    string // in the error message
		is      error
	}{
		{"unknown restaurant", OrdersFile, "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\t3\tr1\t4\no2\t1\t2\t3\tr9\t4\n",
			`orders.txt:3: restaurant: unknown restaurant "r9"`, ErrUnknownRestaurant},
		{"duplicate order", OrdersFile, "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\t3\tr1\t4\no1\t1\t2\t3\tr1\t4\n",
			`orders.txt:3: order: duplicate id "o1", first defined at orders.txt:2`, ErrDuplicateID},
		{"id shared across files", CouriersFile, "courier\tx\ty\ton_time\toff_time\nr2\t0\t0\t0\t60\n",
			`couriers.txt:2: courier: duplicate id "r2", first defined at restaurants.txt:3`, ErrDuplicateID},
		{"bad time", CouriersFile, "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\tnoon\t60\n",
			`couriers.txt:2: on_time: strconv.Atoi: parsing "noon": invalid syntax`, nil},
		{"fractional time", OrdersFile, "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\t3.5\tr1\t4\n",
			`orders.txt:2: placement_time: strconv.Atoi`, nil},
		{"bad coordinate", RestaurantsFile, "restaurant\tx\ty\nr1\tNaN\t0\n",
			`restaurants.txt:2: x: "NaN" is not a finite number`, nil},
		{"missing column", OrdersFile, "order\tx\ty\tplacement_time\tready_time\n",
			`orders.txt:1: header has no column "restaurant"`, nil},
		{"column twice", RestaurantsFile, "restaurant\tx\ty\tx\n",
			`restaurants.txt:1: header names column "x" twice`, nil},
		{"short line", RestaurantsFile, "restaurant\tx\ty\nr1\t0\n",
			`restaurants.txt:2: 2 tab-separated fields, the header has 3`, nil},
		{"space-separated", RestaurantsFile, "restaurant x y\nr1 0 0\n",
			`restaurants.txt:1: header has no column "restaurant"`, nil},
		{"id with a space", RestaurantsFile, "restaurant\tx\ty\nr 1\t0\t0\n",
			`restaurants.txt:2: restaurant: id "r 1" contains white space`, nil},
		{"id 0", CouriersFile, "courier\tx\ty\ton_time\toff_time\n0\t0\t0\t0\t60\n",
			`couriers.txt:2: courier: id 0 is reserved`, nil},
		{"empty shift", CouriersFile, "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t60\t60\n",
			`couriers.txt:2: off_time: shift ends at 60, not after it starts at 60`, nil},
		{"empty file", CouriersFile, "", `couriers.txt:1: no header line`, nil},
		{"no parameters", ParamsFile, strings.SplitAfter(tinyFiles[ParamsFile], "\n")[0],
			`instance_parameters.txt:2: no line of parameters`, nil},
		{"two lines of parameters", ParamsFile, tinyFiles[ParamsFile] + "100\t4\t4\t40\t90\t10\t15\n",
			`instance_parameters.txt:3: more than one line of parameters`, nil},
		{"zero speed", ParamsFile, strings.Replace(tinyFiles[ParamsFile], "\n100\t", "\n0\t", 1),
			`instance_parameters.txt:2: meters_per_minute: 0 is not positive`, nil},
		{"odd service", ParamsFile, strings.Replace(tinyFiles[ParamsFile], "\n100\t4\t4", "\n100\t4\t3", 1),
			`instance_parameters.txt:2: dropoff service minutes: 3 is odd`, nil},
		{"negative pay", ParamsFile, strings.Replace(tinyFiles[ParamsFile], "\t10\t15\n", "\t-10\t15\n", 1),
			`instance_parameters.txt:2: pay per order: -10 is negative`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := maps.Clone(tinyFiles)
			files[tt.file] = tt.content
			dir := t.TempDir()
			writeFiles(t, dir, files)
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got error %v, want one wrapping %v", err, tt.is)
			}
			if pe := (*ParseError)(nil); !errors.As(err, &pe) || pe.File != tt.file {
				t.Errorf("got error %v, want a *ParseError for %s", err, tt.file)
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := maps.Clone(tinyFiles)
	delete(files, CouriersFile)
	writeFiles(t, dir, files)
	if _, err := Read(dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), CouriersFile) {
		t.Errorf("got error %v, want one saying %s does not exist", err, CouriersFile)
	}
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, name := range []string{"b", "a", "c"} {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, tinyFiles)
	}
	writeFiles(t, root, map[string]string{"README.md": "not an instance"})
	insts, err := ReadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, inst := range insts {
		names = append(names, inst.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}

	writeFiles(t, filepath.Join(root, "b"), map[string]string{OrdersFile: "order\n"})
	if _, err := ReadAll(root); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "b")) {
		t.Errorf("got error %v, want one naming instance b", err)
	}
	if _, err := ReadAll(t.TempDir()); err == nil {
		t.Error("ReadAll of an empty directory: got no error")
	}
}
