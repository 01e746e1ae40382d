package fakelinear

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The executor walks a validated operation. Resolvers hand it plain Go
// values: an object is a map[string]any whose entries are scalars, nested
// objects, slices, or a fieldFunc for fields that take arguments; the
// executor projects them through the selection set (aliases, __typename,
// fragments) and applies GraphQL's null propagation
// (https://spec.graphql.org/October2021/#sec-Handling-Field-Errors).

// fieldFunc resolves a field from its coerced arguments.
type fieldFunc func(args map[string]any) (any, error)

// errNull marks a null that must propagate to the nearest nullable parent;
// the field error itself is already recorded.
var errNull = errors.New("null propagated")

type execution struct {
	vars map[string]any
	errs gqlerror.List
}

// execute runs op against the workspace under s.mu. Mutation root fields
// run one after another in document order; a failed non-null root field
// nulls data and, as in graphql-js, stops the fields after it.
func (s *Server) execute(op *ast.OperationDefinition, vars map[string]any) (any, gqlerror.List) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := &execution{vars: vars}
	var root map[string]any
	if op.Operation == ast.Mutation {
		root = s.mutationRoot()
	} else {
		root = s.queryRoot()
	}
	data, err := x.object(root, op.SelectionSet, nil)
	if err != nil {
		return nil, x.errs
	}
	return data, x.errs
}

// object projects val through set.
func (x *execution) object(val map[string]any, set ast.SelectionSet, path ast.Path) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range x.collect(set, nil) {
		fpath := append(append(ast.Path{}, path...), ast.PathName(f.Alias))
		if f.Name == "__typename" {
			out[f.Alias] = f.ObjectDefinition.Name
			continue
		}
		raw := val[f.Name]
		if fn, ok := raw.(fieldFunc); ok {
			v, err := fn(f.ArgumentMap(x.vars))
			if err != nil {
				x.errs = append(x.errs, asGraphQLError(err, fpath))
				if f.Definition.Type.NonNull {
					return nil, errNull
				}
				out[f.Alias] = nil
				continue
			}
			raw = v
		}
		v, err := x.complete(raw, f.Definition.Type, f.SelectionSet, fpath)
		if err != nil {
			if f.Definition.Type.NonNull {
				return nil, errNull
			}
			v = nil
		}
		out[f.Alias] = v
	}
	return out, nil
}

// complete turns a resolved value into its response value for typ.
func (x *execution) complete(raw any, typ *ast.Type, set ast.SelectionSet, path ast.Path) (any, error) {
	if isNil(raw) {
		if typ.NonNull {
			x.errs = append(x.errs, &gqlerror.Error{Message: "Cannot return null for non-nullable field", Path: path})
			return nil, errNull
		}
		return nil, nil
	}
	if typ.Elem != nil {
		rv := reflect.ValueOf(raw)
		if rv.Kind() != reflect.Slice {
			return nil, x.internal(path, "expected a list, got %T", raw)
		}
		list := make([]any, 0, rv.Len())
		for i := range rv.Len() {
			v, err := x.complete(rv.Index(i).Interface(), typ.Elem, set, append(append(ast.Path{}, path...), ast.PathIndex(i)))
			if err != nil {
				if typ.Elem.NonNull {
					return nil, errNull
				}
				v = nil
			}
			list = append(list, v)
		}
		return list, nil
	}
	if len(set) == 0 { // scalar or enum
		return raw, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, x.internal(path, "expected an object, got %T", raw)
	}
	return x.object(obj, set, path)
}

// collect flattens fields, inline fragments and fragment spreads. The
// subset schema has no abstract types in selections, so every fragment
// applies.
func (x *execution) collect(set ast.SelectionSet, into []*ast.Field) []*ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			into = append(into, s)
		case *ast.InlineFragment:
			into = x.collect(s.SelectionSet, into)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				into = x.collect(s.Definition.SelectionSet, into)
			}
		}
	}
	return into
}

func (x *execution) internal(path ast.Path, format string, args ...any) error {
	x.errs = append(x.errs, linearError(path, fmt.Sprintf(format, args...), "internal error", "INTERNAL_ERROR", false))
	return errNull
}

func asGraphQLError(err error, path ast.Path) *gqlerror.Error {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		c := *ge
		c.Path = path
		return &c
	}
	return linearError(path, err.Error(), "internal error", "INTERNAL_ERROR", false)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
