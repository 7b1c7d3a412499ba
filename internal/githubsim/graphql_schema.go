package githubsim

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// GitHub's published GraphQL schema, from the npm package @octokit/graphql-schema
// 15.26.1 (schema.graphql, unmodified; MIT licence in testdata/graphql/LICENSE.md).
// Every query the simulator receives is validated against it.
//
//go:embed testdata/graphql/schema.graphql
var githubSchemaSDL string

// GraphQLSchemaVersion names the vendored schema.
const GraphQLSchemaVersion = "@octokit/graphql-schema 15.26.1"

// loadSchema parses the schema once per process: it is 1.2 MB and never changes, so
// every simulator (and test) shares the parsed, read-only result.
var loadSchema = sync.OnceValues(func() (*ast.Schema, error) {
	return parseGitHubSchema(githubSchemaSDL)
})

// GraphQLSchema returns GitHub's GraphQL schema as the simulator validates queries
// against it, for tests that check a client's queries without a simulator.
func GraphQLSchema() (*ast.Schema, error) { return loadSchema() }

// parseGitHubSchema loads an SDL document. GitHub's published schema repeats two field
// definitions of EnterpriseOwnerInfo word for word; a second definition identical to
// the first is dropped (a differing one is still an error).
func parseGitHubSchema(sdl string) (*ast.Schema, error) {
	doc, err := parser.ParseSchemas(validator.Prelude, &ast.Source{Name: "github-schema.graphql", Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("github graphql schema: %w", err)
	}
	for _, def := range doc.Definitions {
		def.Fields, err = dropRepeatedFields(def.Name, def.Fields)
		if err != nil {
			return nil, err
		}
	}
	schema, err := validator.ValidateSchemaDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("github graphql schema: %w", err)
	}
	return schema, nil
}

func dropRepeatedFields(typeName string, fields ast.FieldList) (ast.FieldList, error) {
	first := map[string]*ast.FieldDefinition{}
	out := fields[:0:0]
	for _, f := range fields {
		prev, seen := first[f.Name]
		if !seen {
			first[f.Name] = f
			out = append(out, f)
			continue
		}
		if !sameField(prev, f) {
			return nil, fmt.Errorf("github graphql schema: %s.%s is defined twice, differently (lines %d and %d)",
				typeName, f.Name, prev.Position.Line, f.Position.Line)
		}
	}
	return out, nil
}

func sameField(a, b *ast.FieldDefinition) bool {
	if a.Type.String() != b.Type.String() || len(a.Arguments) != len(b.Arguments) {
		return false
	}
	return slices.EqualFunc(a.Arguments, b.Arguments, func(x, y *ast.ArgumentDefinition) bool {
		return x.Name == y.Name && x.Type.String() == y.Type.String()
	})
}
