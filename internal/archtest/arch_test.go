package archtest

import (
	"bufio"
	"errors"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// services are the packages that own one service each (ARCHITECTURE.md section 2). They talk
// through events and the store, never by importing each other.
var services = []string{"catalog", "order", "dispatch", "tracking", "fulfil", "notify"}

// banned are package names that say nothing about what the package owns (STYLE.md habit 1).
var banned = []string{"util", "utils", "common", "helpers", "models", "types"}

// undocumentedOK lists directories, relative to the module root, allowed to lack a package doc
// comment, each with the reason.
var undocumentedOK = map[string]string{
	"internal/zzwarm": "git-ignored dependency warm-up on the build machines, not project code",
}

// pkg is one directory's Go package: its non-test files, parsed up to their imports.
type pkg struct {
	dir   string // slash-separated, relative to the module root
	name  string
	files []srcFile
}

type srcFile struct {
	name string // base name
	ast  *ast.File
}

func TestPackagesHaveDocComments(t *testing.T) {
	t.Parallel()
	root, _ := module(t)
	var missing []string
	for _, top := range []string{"internal", "cmd"} {
		for _, p := range packages(t, root, top) {
			if _, ok := undocumentedOK[p.dir]; ok {
				continue
			}
			documented := slices.ContainsFunc(p.files, func(f srcFile) bool {
				return f.ast.Doc != nil && strings.TrimSpace(f.ast.Doc.Text()) != ""
			})
			if !documented {
				missing = append(missing, p.dir)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("packages without a package doc comment (say what the package owns, e.g. \"// Package geo ...\" in doc.go or its main file):\n\t%s",
			strings.Join(missing, "\n\t"))
	}
}

func TestServicesDoNotImportEachOther(t *testing.T) {
	t.Parallel()
	root, modPath := module(t)
	var violations []string
	for _, svc := range services {
		for _, p := range packages(t, root, path.Join("internal", svc)) {
			for _, f := range p.files {
				for _, imp := range f.ast.Imports {
					ip, err := strconv.Unquote(imp.Path.Value)
					if err != nil {
						t.Fatalf("%s: bad import %s", p.dir, imp.Path.Value)
					}
					for _, other := range services {
						otherPath := modPath + "/internal/" + other
						if other != svc && (ip == otherPath || strings.HasPrefix(ip, otherPath+"/")) {
							violations = append(violations, p.dir+"/"+f.name+" imports "+ip)
						}
					}
				}
			}
		}
	}
	if len(violations) > 0 {
		t.Errorf("service packages import each other; they must meet through events (internal/event) and the store instead:\n\t%s",
			strings.Join(violations, "\n\t"))
	}
}

func TestNoGrabBagPackages(t *testing.T) {
	t.Parallel()
	root, _ := module(t)
	var offenders []string
	for _, p := range packages(t, root, ".") {
		if slices.Contains(banned, p.name) || slices.Contains(banned, path.Base(p.dir)) {
			offenders = append(offenders, p.dir+" (package "+p.name+")")
		}
	}
	if len(offenders) > 0 {
		t.Errorf("packages named %v say nothing about what they own; name them for what they hold:\n\t%s",
			banned, strings.Join(offenders, "\n\t"))
	}
}

// module returns the module root, found by walking up from the working directory to go.mod, and
// the module path declared there.
func module(tb testing.TB) (root, modPath string) {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("working directory: %v", err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
					mp := strings.TrimSpace(rest)
					if uq, err := strconv.Unquote(mp); err == nil {
						mp = uq
					}
					return dir, mp
				}
			}
			tb.Fatalf("%s/go.mod has no module line", dir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			tb.Fatalf("read go.mod: %v", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// packages parses every package in the tree under root/top (top is slash-separated), skipping
// what the go tool skips: testdata, vendor, directories starting with "." or "_", and nested
// modules. A missing top yields no packages. Test files and files excluded by an "ignore" build
// constraint are left out.
func packages(tb testing.TB, root, top string) []pkg {
	tb.Helper()
	start := filepath.Join(root, filepath.FromSlash(top))
	if _, err := os.Stat(start); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var out []pkg
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != start {
			name := d.Name()
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		pk, err := parsePackage(p, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if len(pk.files) > 0 {
			out = append(out, pk)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", top, err)
	}
	return out
}

func parsePackage(dir, rel string) (pkg, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return pkg{}, err
	}
	pk := pkg{dir: rel}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return pkg{}, err
		}
		if ignored(f) {
			continue
		}
		pk.name = f.Name.Name
		pk.files = append(pk.files, srcFile{name: name, ast: f})
	}
	return pk, nil
}

// ignored reports whether f carries a //go:build constraint naming the "ignore" tag, the
// convention for files that are not part of the package (generators and the like).
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				continue
			}
			var named bool
			expr.Eval(func(tag string) bool {
				named = named || tag == "ignore"
				return true
			})
			if named {
				return true
			}
		}
	}
	return false
}
