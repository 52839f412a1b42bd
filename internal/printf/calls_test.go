package printf_test

import (
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dledgerlab/internal/printf"
)

// TestCallsUseSupportedTypes type-checks every package of the module that
// calls printf and checks each operand against the verb it meets: printf
// sees types through a type switch, not reflection, so a named type (say
// core.NodeID) passed to %d would print "%!d(...)" where fmt prints the
// number. It also counts verbs against operands. This is go vet's printf
// check (which does not know printf) for printf's narrower rules.
func TestCallsUseSupportedTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	out, err := exec.Command("go", "list", "-export", "-deps", "-json", "dledgerlab/...").Output()
	require.NoError(t, err)
	type pkg struct {
		ImportPath, Dir, Export string
		GoFiles                 []string
		Imports                 []string
	}
	exports := map[string]string{}
	var users []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		exports[p.ImportPath] = p.Export
		for _, imp := range p.Imports {
			if imp == "dledgerlab/internal/printf" {
				users = append(users, p)
			}
		}
	}
	require.NotEmpty(t, users)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	errType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	calls := 0
	for _, p := range users {
		var files []*ast.File
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			require.NoError(t, err)
			files = append(files, af)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
		_, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info)
		require.NoError(t, err, p.ImportPath)
		// A wrapper is a function of this package (or a function value)
		// whose last parameter is ...any and which passes a format
		// parameter and those operands on to printf: its calls are checked
		// like printf's, the format at formatAt.
		formatAt := map[types.Object]int{}
		wrapper := func(name *ast.Ident, ft *ast.FuncType, body *ast.BlockStmt) {
			var params []*ast.Ident
			for _, f := range ft.Params.List {
				params = append(params, f.Names...)
			}
			if len(params) < 2 || body == nil {
				return
			}
			ast.Inspect(body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !call.Ellipsis.IsValid() || len(call.Args) < 2 {
					return true
				}
				last, _ := call.Args[len(call.Args)-1].(*ast.Ident)
				format, _ := call.Args[len(call.Args)-2].(*ast.Ident)
				if last == nil || format == nil || info.Uses[last] != info.Defs[params[len(params)-1]] {
					return true
				}
				for i, p := range params {
					if info.Uses[format] == info.Defs[p] {
						formatAt[info.Defs[name]] = i
					}
				}
				return true
			})
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch d := n.(type) {
				case *ast.FuncDecl:
					wrapper(d.Name, d.Type, d.Body)
				case *ast.AssignStmt:
					if lit, ok := d.Rhs[0].(*ast.FuncLit); ok && len(d.Lhs) == 1 {
						if id, ok := d.Lhs[0].(*ast.Ident); ok {
							wrapper(id, lit.Type, lit.Body)
						}
					}
				}
				return true
			})
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				var id *ast.Ident
				switch fun := call.Fun.(type) {
				case *ast.SelectorExpr:
					id = fun.Sel
				case *ast.Ident:
					id = fun
				default:
					return true
				}
				obj := info.Uses[id]
				at, isWrapper := formatAt[obj]
				fn, _ := obj.(*types.Func)
				isPrintf := fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "dledgerlab/internal/printf"
				if !isPrintf && !isWrapper {
					return true
				}
				calls++
				if call.Ellipsis.IsValid() {
					return true // a wrapper passing its operands on
				}
				args := call.Args
				var verbs []rune
				known := false // the format is a constant
				switch {
				case isWrapper:
					if tv := info.Types[args[at]]; tv.Value != nil {
						verbs, known = printf.Verbs(constantString(tv.Value.ExactString())), true
					}
					args = args[at+1:]
				case fn.Name() != "Sprint":
					tv := info.Types[args[0]]
					if fn.Name() == "Appendf" {
						args = args[1:]
						tv = info.Types[args[0]]
					}
					if tv.Value != nil {
						verbs, known = printf.Verbs(constantString(tv.Value.ExactString())), true
					}
					args = args[1:]
				}
				if known && len(verbs) != len(args) {
					t.Errorf("%s: %s has %d verbs for %d operands", fset.Position(call.Pos()), id.Name, len(verbs), len(args))
				}
				for i, a := range args {
					verb := 'v'
					if i < len(verbs) {
						verb = verbs[i]
					}
					typ := info.Types[a].Type
					if !supported(typ, verb, errType) {
						t.Errorf("%s: %s operand %d of type %s meets %%%c, which printf cannot format (convert it, e.g. uint64(x))",
							fset.Position(a.Pos()), id.Name, i+1, typ, verb)
					}
				}
				return true
			})
		}
	}
	require.Greater(t, calls, 100, "the walk found printf's calls")
}

func constantString(s string) string {
	u, err := strconv.Unquote(s)
	if err != nil {
		return ""
	}
	return u
}

// supported mirrors printf's type switch.
func supported(typ types.Type, verb rune, errType *types.Interface) bool {
	if b, ok := typ.(*types.Basic); ok {
		switch {
		case b.Info()&types.IsInteger != 0:
			return strings.ContainsRune("dvxXqc", verb)
		case b.Info()&types.IsFloat != 0:
			return strings.ContainsRune("fFgv", verb)
		case b.Info()&types.IsString != 0:
			return strings.ContainsRune("svqx", verb)
		case b.Info()&types.IsBoolean != 0:
			return strings.ContainsRune("tv", verb)
		case b.Kind() == types.UntypedNil:
			return verb == 'v'
		}
		return false
	}
	if s, ok := typ.(*types.Slice); ok {
		if e, ok := s.Elem().(*types.Basic); ok && (e.Kind() == types.Byte || e.Kind() == types.Int) {
			return true
		}
		if e, ok := s.Elem().(*types.Basic); ok && e.Kind() == types.String {
			return verb == 'v' || verb == 's'
		}
		if in, ok := s.Elem().(*types.Slice); ok {
			if e, ok := in.Elem().(*types.Basic); ok && e.Kind() == types.Int {
				return verb == 'v' || verb == 'd'
			}
		}
		return false
	}
	if types.Implements(typ, errType) || hasString(typ) {
		return strings.ContainsRune("vsqxw", verb)
	}
	return false
}

func hasString(typ types.Type) bool {
	ms := types.NewMethodSet(typ)
	for i := range ms.Len() {
		f := ms.At(i).Obj().(*types.Func)
		sig := f.Type().(*types.Signature)
		if f.Name() == "String" && sig.Params().Len() == 0 && sig.Results().Len() == 1 {
			if b, ok := sig.Results().At(0).Type().(*types.Basic); ok && b.Kind() == types.String {
				return true
			}
		}
	}
	return false
}
