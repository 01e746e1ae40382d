package linear

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestOperationsValidate checks every operation in operations.graphql
// against the hand-written subset and against Linear's full schema, so the
// subset cannot drift from what Linear really accepts.
func TestOperationsValidate(t *testing.T) {
	path := os.Getenv("LINEAR_FULL_SCHEMA")
	if path == "" {
		path = filepath.Join("..", "..", "shared", "linear", "schema.graphql")
	}
	schemas := []struct {
		name string
		load func(t *testing.T) *ast.Schema
	}{
		{name: "subset", load: func(t *testing.T) *ast.Schema {
			return loadSchema(t, "schema.graphql", SchemaSubset)
		}},
		{name: "full", load: func(t *testing.T) *ast.Schema {
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") == "" {
				t.Skipf("full Linear schema not found at %s; set LINEAR_FULL_SCHEMA", path)
			}
			if err != nil {
				t.Fatalf("full Linear schema: %v", err)
			}
			return loadSchema(t, path, string(b))
		}},
	}
	t.Run("subset matches full", func(t *testing.T) {
		compareSchemas(t, schemas[0].load(t), schemas[1].load(t))
	})
	for _, s := range schemas {
		t.Run(s.name, func(t *testing.T) {
			schema := s.load(t)
			doc, errs := gqlparser.LoadQuery(schema, Operations)
			if len(errs) > 0 {
				t.Fatalf("operations.graphql does not validate: %v", errs)
			}
			var names []string
			for _, op := range doc.Operations {
				names = append(names, op.Name)
			}
			if len(names) != 14 {
				t.Errorf("validated operations %v, want 14", names)
			}
		})
	}
}

func loadSchema(t *testing.T, name, text string) *ast.Schema {
	t.Helper()
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: text})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return schema
}

// compareSchemas checks that every type, field, argument and input field of
// the subset exists in the full schema with exactly the same type.
func compareSchemas(t *testing.T, subset, full *ast.Schema) {
	t.Helper()
	for name, def := range subset.Types {
		if def.BuiltIn {
			continue
		}
		fdef := full.Types[name]
		if fdef == nil {
			t.Errorf("type %s is not in the full schema", name)
			continue
		}
		if def.Kind != fdef.Kind {
			t.Errorf("type %s is %s, full schema says %s", name, def.Kind, fdef.Kind)
		}
		for _, v := range def.EnumValues {
			if fdef.EnumValues.ForName(v.Name) == nil {
				t.Errorf("enum value %s.%s is not in the full schema", name, v.Name)
			}
		}
		for _, f := range def.Fields {
			if f.Name == "__typename" || f.Name == "__schema" || f.Name == "__type" {
				continue
			}
			ff := fdef.Fields.ForName(f.Name)
			if ff == nil {
				t.Errorf("field %s.%s is not in the full schema", name, f.Name)
				continue
			}
			if f.Type.String() != ff.Type.String() {
				t.Errorf("field %s.%s is %s, full schema says %s", name, f.Name, f.Type, ff.Type)
			}
			for _, a := range f.Arguments {
				fa := ff.Arguments.ForName(a.Name)
				if fa == nil {
					t.Errorf("argument %s.%s(%s) is not in the full schema", name, f.Name, a.Name)
				} else if a.Type.String() != fa.Type.String() {
					t.Errorf("argument %s.%s(%s) is %s, full schema says %s", name, f.Name, a.Name, a.Type, fa.Type)
				}
			}
		}
	}
}
