// Command kindconsts prints the value of string constants (or of a []string
// variable made of constants, one element a line) declared in Go files, without
// compiling their package: kind keeps its default CNI and storage manifests and
// their image names as constants in pkg/build/nodeimage, and build.sh reads them
// from the kind module at build time instead of copying them.
//
// usage: kindconsts NAME FILE.go...
package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: kindconsts NAME FILE.go...")
		os.Exit(2)
	}
	name, paths := os.Args[1], os.Args[2:]
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			fail(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.Default(), Error: func(error) {}}
	pkg, _ := conf.Check("p", fset, files, info)
	obj := pkg.Scope().Lookup(name)
	switch o := obj.(type) {
	case *types.Const:
		fmt.Print(constant.StringVal(o.Val()))
	case *types.Var:
		// a composite literal of constants: find its declaration
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, id := range vs.Names {
					if id.Name != name || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.CompositeLit)
					if !ok {
						fail(fmt.Errorf("%s is not a literal", name))
					}
					for _, e := range lit.Elts {
						tv := info.Types[e]
						if tv.Value == nil {
							fail(fmt.Errorf("%s: element is not constant", name))
						}
						fmt.Println(constant.StringVal(tv.Value))
					}
				}
				return false
			})
		}
	default:
		fail(fmt.Errorf("%s: no such constant or variable", name))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kindconsts:", err)
	os.Exit(1)
}
