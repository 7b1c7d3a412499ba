package githubsim

import (
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// GitHub's GraphQL limits, as documented ("Rate limits and query limits for the GraphQL
// API"): first/last between 1 and 100, at most 500,000 nodes a query, and a cost in
// points of the connection requests a query needs, divided by 100.
const (
	gqlMaxPage  = 100
	gqlMaxNodes = 500_000
)

// gqlCost is what GitHub computes for a query before running it.
type gqlCost struct {
	requests int64 // connection requests: each connection with first/last, once per parent item
	nodes    int64 // the most nodes the query can return
}

// points is the query's rate-limit cost: the connection requests ÷ 100, rounded to the
// nearest whole number, at least 1.
func (c gqlCost) points() int {
	p := int((c.requests + 50) / 100)
	return max(p, 1)
}

// analyze walks an operation as GitHub does before running it: it checks the paging
// limits of every connection and adds up requests and nodes. A connection asked only
// for totalCount (no nodes or edges) needs no page and costs nothing.
func analyze(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (gqlCost, *gqlError) {
	a := analysis{schema: schema, doc: doc, vars: vars}
	a.walk("Query", op.SelectionSet, 1, 0)
	if a.err != nil {
		return gqlCost{}, a.err
	}
	if a.cost.nodes > gqlMaxNodes {
		return a.cost, gqlErrorf("MAX_NODE_LIMIT_EXCEEDED", "This query requests up to %s possible nodes which exceeds the maximum limit of %s.",
			thousands(a.cost.nodes), thousands(gqlMaxNodes))
	}
	return a.cost, nil
}

type analysis struct {
	schema *ast.Schema
	doc    *ast.QueryDocument
	vars   map[string]any
	cost   gqlCost
	err    *gqlError
}

func (a *analysis) walk(typ string, set ast.SelectionSet, mult int64, depth int) {
	if a.err != nil || depth > 50 {
		return
	}
	def := a.schema.Types[typ]
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__typename" || def == nil {
				continue
			}
			fd := def.Fields.ForName(s.Name)
			if fd == nil {
				continue // validation would have refused it
			}
			fieldType := fd.Type.Name()
			args := s.ArgumentMap(a.vars)
			switch {
			case strings.HasSuffix(fieldType, "Connection") && fd.Arguments.ForName("first") != nil:
				size, paged := a.pageSize(s, args)
				if a.err != nil {
					return
				}
				if !paged {
					a.walk(fieldType, s.SelectionSet, mult, depth+1) // totalCount only
					continue
				}
				a.cost.requests += mult
				a.cost.nodes += mult * size
				a.walk(fieldType, s.SelectionSet, mult*size, depth+1)
			case s.Name == "nodes" && typ == "Query":
				ids, _ := args["ids"].([]any)
				a.walk(fieldType, s.SelectionSet, mult*int64(max(len(ids), 1)), depth+1)
			default:
				a.walk(fieldType, s.SelectionSet, mult, depth+1)
			}
		case *ast.InlineFragment:
			cond := s.TypeCondition
			if cond == "" {
				cond = typ
			}
			a.walk(cond, s.SelectionSet, mult, depth+1)
		case *ast.FragmentSpread:
			if fd := a.doc.Fragments.ForName(s.Name); fd != nil {
				a.walk(fd.TypeCondition, fd.SelectionSet, mult, depth+1)
			}
		}
	}
}

// pageSize checks a connection's first/last and returns the page size; paged is false
// for a connection that asks neither and selects no items.
func (a *analysis) pageSize(f *ast.Field, args map[string]any) (size int64, paged bool) {
	first, hasFirst := intArg(args, "first")
	last, hasLast := intArg(args, "last")
	for _, arg := range []struct {
		name string
		v    int
		has  bool
	}{{"first", first, hasFirst}, {"last", last, hasLast}} {
		if !arg.has {
			continue
		}
		if arg.v < 1 || arg.v > gqlMaxPage {
			if arg.v > gqlMaxPage {
				a.err = gqlErrorf("EXCESSIVE_PAGINATION", "Requesting %d records on the `%s` connection exceeds the `%s` limit of %d records.", arg.v, f.Name, arg.name, gqlMaxPage)
			} else {
				a.err = gqlErrorf("INVALID_PAGINATION", "`%s` on the `%s` connection must be between 1 and %d (got %d).", arg.name, f.Name, gqlMaxPage, arg.v)
			}
			a.err.Locations = locationOf(f)
			return 0, false
		}
	}
	switch {
	case hasFirst:
		return int64(first), true
	case hasLast:
		return int64(last), true
	case a.selectsItems(f.SelectionSet, 0):
		a.err = gqlErrorf("MISSING_PAGINATION_BOUNDARIES", "You must provide a `first` or `last` value to properly paginate the `%s` connection.", f.Name)
		a.err.Locations = locationOf(f)
	}
	return 0, false
}

// selectsItems reports whether a connection's selection asks for nodes or edges.
func (a *analysis) selectsItems(set ast.SelectionSet, depth int) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "nodes" || s.Name == "edges" {
				return true
			}
		case *ast.InlineFragment:
			if depth < 10 && a.selectsItems(s.SelectionSet, depth+1) {
				return true
			}
		case *ast.FragmentSpread:
			if fd := a.doc.Fragments.ForName(s.Name); fd != nil && depth < 10 && a.selectsItems(fd.SelectionSet, depth+1) {
				return true
			}
		}
	}
	return false
}

func locationOf(f *ast.Field) []gqlLocation {
	if f.Position == nil {
		return nil
	}
	return []gqlLocation{{Line: f.Position.Line, Column: f.Position.Column}}
}

// thousands formats n with commas, as GitHub's messages do.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
