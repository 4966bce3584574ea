package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/berth-registry/berth/"

// TestLayering enforces DESIGN.md's dependency direction on non-test code.
func TestLayering(t *testing.T) {
	t.Parallel()
	imports := packageImports(t)
	if len(imports) < 5 {
		t.Fatalf("found only %d packages; is the test running in internal/?", len(imports))
	}
	leaves := []string{"internal/oci", "internal/policy", "internal/lifecycle", "internal/auth/sigv4"}
	frontEnds := []string{"internal/ociapi", "internal/ecrapi", "internal/iamapi", "internal/console"}
	for pkg, imps := range imports {
		for _, imp := range imps {
			if isUnder(pkg, leaves) && !isStdlib(imp) && !strings.HasPrefix(imp, "github.com/opencontainers/") {
				t.Errorf("%s is a leaf package but imports %s", pkg, imp)
			}
			if isUnder(pkg, frontEnds) && (isUnder(imp, []string{module + "internal/metastore", module + "internal/blobstore"})) {
				t.Errorf("front end %s imports %s; go through internal/registry", pkg, imp)
			}
			if imp == module+"internal/config" && pkg != "internal/app" {
				t.Errorf("%s imports internal/config; only internal/app may", pkg)
			}
		}
	}
}

func isUnder(pkg string, roots []string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// packageImports maps each package directory under internal/ (relative to
// the module root) to the imports of its non-test files.
func packageImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if f.Name.Name == "internal" { // build-constraint files pinning tool modules
			return nil
		}
		pkg := filepath.ToSlash(filepath.Join("internal", filepath.Dir(path)))
		for _, imp := range f.Imports {
			out[pkg] = append(out[pkg], strings.Trim(imp.Path.Value, `"`))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("oci"); err != nil {
		t.Fatalf("run from internal/: %v", err)
	}
	return out
}
