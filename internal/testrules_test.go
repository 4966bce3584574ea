package internal_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestParallelSubtestsTakeTheirOwnDeadline: a subtest that calls
// t.Parallel() is paused until its parent returns and then waits for a
// free slot, behind every other parallel test of the package — minutes in
// the e2e package. A context with a deadline made by the parent runs out
// while it waits, and the subtest fails with "context deadline exceeded"
// without having sent a request (CI failed twice this way). Such a subtest
// must make its own context, from when it runs.
//
// The check is by name: in a test whose `ctx` has a deadline, a parallel
// subtest must not use a `ctx` declared outside it.
func TestParallelSubtestsTakeTheirOwnDeadline(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, pos := range outerContextsInParallelSubtests(f) {
			t.Errorf("%s: a parallel subtest uses the parent's ctx; make one in the subtest (testContext) so its deadline starts when it runs", fset.Position(pos))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("scanned only %d test files; is the test running in internal/?", files)
	}
}

// outerContextsInParallelSubtests returns where a subtest literal that
// starts with t.Parallel() reads a `ctx` it does not declare itself, in a
// test function whose own ctx has a deadline (made by testContext,
// context.WithTimeout or context.WithDeadline).
func outerContextsInParallelSubtests(f *ast.File) []token.Pos {
	var found []token.Pos
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !declaresDeadlineContext(fn.Body, "ctx") {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if lit := parallelSubtest(n); lit != nil {
				if uses := undeclaredUses(lit.Body, "ctx"); len(uses) > 0 {
					found = append(found, uses[0]) // one report per subtest
				}
			}
			return true
		})
	}
	return found
}

// parallelSubtest returns the literal of `x.Run(name, func…)` when its
// first statement is a t.Parallel() call.
func parallelSubtest(n ast.Node) *ast.FuncLit {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) != 2 {
		return nil
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Run" {
		return nil
	}
	lit, ok := call.Args[1].(*ast.FuncLit)
	if !ok || len(lit.Body.List) == 0 || !isParallelCall(lit.Body.List[0]) {
		return nil
	}
	return lit
}

// declaresDeadlineContext reports whether body, outside its parallel
// subtests, declares name from a call that sets a deadline.
func declaresDeadlineContext(body *ast.BlockStmt, name string) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if parallelSubtest(n) != nil {
			return false
		}
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok {
			return true
		}
		var fname string
		switch f := call.Fun.(type) {
		case *ast.Ident:
			fname = f.Name
		case *ast.SelectorExpr:
			fname = f.Sel.Name
		}
		if fname != "testContext" && fname != "WithTimeout" && fname != "WithDeadline" {
			return true
		}
		for _, l := range as.Lhs {
			if id, ok := l.(*ast.Ident); ok && id.Name == name {
				found = true
			}
		}
		return true
	})
	return found
}

// isParallelCall reports whether s is `x.Parallel()`.
func isParallelCall(s ast.Stmt) bool {
	es, ok := s.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Parallel" && len(call.Args) == 0
}

func definesName(as *ast.AssignStmt, name string) bool {
	for _, l := range as.Lhs {
		if id, ok := l.(*ast.Ident); ok && id.Name == name {
			return true
		}
	}
	return false
}

// undeclaredUses returns the uses of name in body before body declares it
// (with := or var, or as a parameter of a nested literal); declarations
// inside nested blocks are counted from where they appear, which is
// conservative enough for test code.
func undeclaredUses(body *ast.BlockStmt, name string) []token.Pos {
	declared := token.NoPos
	var uses []token.Pos
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, r := range n.Rhs { // ctx, cancel := context.WithTimeout(ctx, …) keeps the outer deadline
					if declared == token.NoPos && definesName(n, name) {
						uses = append(uses, undeclaredUses(&ast.BlockStmt{List: []ast.Stmt{&ast.ExprStmt{X: r}}}, name)...)
					}
				}
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == name && declared == token.NoPos {
						declared = id.Pos()
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				if id.Name == name && declared == token.NoPos {
					declared = id.Pos()
				}
			}
		case *ast.FuncLit:
			for _, fl := range n.Type.Params.List {
				for _, id := range fl.Names {
					if id.Name == name {
						return false // a nested literal with its own ctx
					}
				}
			}
		case *ast.SelectorExpr:
			ast.Inspect(n.X, func(m ast.Node) bool { // x.ctx is a field, not the variable
				if id, ok := m.(*ast.Ident); ok && id.Name == name && (declared == token.NoPos || id.Pos() < declared) {
					uses = append(uses, id.Pos())
				}
				return true
			})
			return false
		case *ast.Ident:
			if n.Name == name && (declared == token.NoPos || n.Pos() < declared) {
				uses = append(uses, n.Pos())
			}
		}
		return true
	})
	return uses
}
