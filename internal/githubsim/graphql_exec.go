package githubsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// A small GraphQL executor for the part of GitHub's schema the simulator serves. The
// query has been parsed and validated against the schema before it gets here; the
// executor walks its selection sets, calls the resolver of each (type, field) and
// builds the answer in selection order. A field the schema has but the simulator does
// not serve answers an error naming it, so a client relying on it fails its tests
// instead of reading nulls.

// gqlObject is a resolved object: its concrete GraphQL type and what its resolvers read.
type gqlObject struct {
	typ string
	v   any
}

// gqlResolver resolves one field of an object. It returns a scalar (string, bool, int,
// int64, float64), nil, a gqlObject, or a []gqlObject; or a *gqlError.
type gqlResolver func(x *gqlExec, obj gqlObject, f *ast.Field, args map[string]any) (any, error)

// gqlError is one entry of the answer's errors array, shaped like GitHub's.
type gqlError struct {
	Type       string         `json:"type,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Locations  []gqlLocation  `json:"locations,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
	Message    string         `json:"message"`
}

type gqlLocation struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *gqlError) Error() string { return e.Message }

func gqlErrorf(typ, format string, args ...any) *gqlError {
	return &gqlError{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// gqlExec is one query's execution.
type gqlExec struct {
	c         *call
	schema    *ast.Schema
	doc       *ast.QueryDocument
	vars      map[string]any
	resolvers map[string]gqlResolver
	rate      gqlRateState // the rateLimit object of this query
	errors    []*gqlError
}

// jsonObject keeps the answer's keys in selection order. Each key is set once (fields
// are grouped by response key before they are resolved), so a slice does: answers of
// thousands of objects stay light.
type jsonObject struct {
	keys []string
	vals []any
}

func newJSONObject(n int) *jsonObject {
	return &jsonObject{keys: make([]string, 0, n), vals: make([]any, 0, n)}
}

func (o *jsonObject) set(k string, v any) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := encodeJSON(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeJSON writes an answer into one buffer: json.Marshal of nested Marshalers would
// copy (and re-validate) every level's bytes again.
func encodeJSON(b *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case *jsonObject:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeJSON(b, k); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := encodeJSON(b, t.vals[i]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case nil:
		b.WriteString("null")
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(raw)
	return nil
}

// execute runs the operation's selection set on the query root.
func (x *gqlExec) execute(op *ast.OperationDefinition) *jsonObject {
	return x.object(gqlObject{typ: "Query"}, op.SelectionSet, nil)
}

// object resolves a selection set on obj: the fields are collected (fragments applied
// by type condition, same response keys merged) and resolved in order.
func (x *gqlExec) object(obj gqlObject, set ast.SelectionSet, path []any) *jsonObject {
	keys, fields := x.collect(obj.typ, set, nil, map[string][]*ast.Field{})
	out := newJSONObject(len(keys))
	for _, key := range keys {
		group := fields[key]
		f := group[0]
		fieldPath := append(append([]any(nil), path...), key)
		if f.Name == "__typename" {
			out.set(key, obj.typ)
			continue
		}
		var merged ast.SelectionSet
		for _, g := range group {
			merged = append(merged, g.SelectionSet...)
		}
		v, err := x.resolve(obj, f)
		if err != nil {
			x.fail(err, f, fieldPath)
			out.set(key, nil)
			continue
		}
		out.set(key, x.complete(v, merged, fieldPath))
	}
	return out
}

// collect gathers the fields a selection set asks of an object of type typ, by
// response key, in order.
func (x *gqlExec) collect(typ string, set ast.SelectionSet, keys []string, fields map[string][]*ast.Field) ([]string, map[string][]*ast.Field) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			if _, seen := fields[key]; !seen {
				keys = append(keys, key)
			}
			fields[key] = append(fields[key], s)
		case *ast.InlineFragment:
			if x.applies(typ, s.TypeCondition) {
				keys, fields = x.collect(typ, s.SelectionSet, keys, fields)
			}
		case *ast.FragmentSpread:
			def := x.doc.Fragments.ForName(s.Name)
			if def != nil && x.applies(typ, def.TypeCondition) {
				keys, fields = x.collect(typ, def.SelectionSet, keys, fields)
			}
		}
	}
	return keys, fields
}

// applies reports whether a fragment on condition applies to an object of type typ.
func (x *gqlExec) applies(typ, condition string) bool {
	if condition == "" || condition == typ {
		return true
	}
	for _, d := range x.schema.PossibleTypes[condition] {
		if d.Name == typ {
			return true
		}
	}
	return false
}

func (x *gqlExec) resolve(obj gqlObject, f *ast.Field) (any, error) {
	args := f.ArgumentMap(x.vars)
	switch v := obj.v.(type) {
	case *gqlConn:
		return v.field(f.Name)
	case gqlEdge:
		switch f.Name {
		case "cursor":
			return v.cursor, nil
		case "node":
			return v.node, nil
		}
	case gqlPageInfo:
		switch f.Name {
		case "hasNextPage":
			return v.hasNext, nil
		case "hasPreviousPage":
			return v.hasPrev, nil
		case "startCursor":
			return nullable(v.start), nil
		case "endCursor":
			return nullable(v.end), nil
		}
	}
	fn := x.resolvers[obj.typ+"."+f.Name]
	if fn == nil {
		return nil, gqlErrorf("NOT_SIMULATED", "Field '%s' on type '%s' is not simulated by githubsim (it is in GitHub's schema)", f.Name, obj.typ)
	}
	return fn(x, obj, f, args)
}

// complete turns a resolved value into JSON, resolving objects' selection sets.
func (x *gqlExec) complete(v any, set ast.SelectionSet, path []any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case gqlObject:
		if t.v == nil && t.typ == "" {
			return nil
		}
		return x.object(t, set, path)
	case []gqlObject:
		out := make([]any, len(t))
		for i, o := range t {
			if o.typ == "" {
				out[i] = nil
				continue
			}
			out[i] = x.object(o, set, append(append([]any(nil), path...), i))
		}
		return out
	}
	return v
}

func (x *gqlExec) fail(err error, f *ast.Field, path []any) {
	e, ok := err.(*gqlError)
	if !ok {
		e = &gqlError{Message: err.Error()}
	}
	e.Path = path
	if f.Position != nil {
		e.Locations = []gqlLocation{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	x.errors = append(x.errors, e)
}

// nullable is nil for "", so an absent string answers null.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Connections.

// gqlConn is one page of a connection. Its fields (totalCount, pageInfo, nodes,
// edges) are resolved generically.
type gqlConn struct {
	typ      string // e.g. PullRequestConnection
	edgeType string // e.g. PullRequestEdge
	total    int
	start    int         // index of page[0] in the whole list
	page     []gqlObject // the items of this page
	hasNext  bool
	hasPrev  bool
}

func (c *gqlConn) field(name string) (any, error) {
	switch name {
	case "totalCount":
		return c.total, nil
	case "nodes":
		return c.page, nil
	case "edges":
		edges := make([]gqlObject, len(c.page))
		for i, n := range c.page {
			edges[i] = gqlObject{typ: c.edgeType, v: gqlEdge{cursor: encodeCursor(c.start + i), node: n}}
		}
		return edges, nil
	case "pageInfo":
		info := gqlPageInfo{hasNext: c.hasNext, hasPrev: c.hasPrev}
		if len(c.page) > 0 {
			info.start, info.end = encodeCursor(c.start), encodeCursor(c.start+len(c.page)-1)
		}
		return gqlObject{typ: "PageInfo", v: info}, nil
	}
	return nil, gqlErrorf("NOT_SIMULATED", "Field '%s' on type '%s' is not simulated by githubsim", name, c.typ)
}

type gqlEdge struct {
	cursor string
	node   gqlObject
}

type gqlPageInfo struct {
	hasNext, hasPrev bool
	start, end       string // "" → null
}

// The cursors of a list are its positions, opaque to clients as GitHub's are.
const cursorPrefix = "cursor:v2:"

func encodeCursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(i)))
}

func decodeCursor(s string) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), cursorPrefix))
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) || n < 0 {
		return 0, false
	}
	return n, true
}

// pageOf cuts the page the connection arguments (first, last, after, before) ask for out
// of n items; item builds the object of index i. The limits (first/last present and
// within 1..100) were checked before execution.
func pageOf(args map[string]any, connType string, n int, item func(i int) gqlObject) (gqlObject, error) {
	lo, hi := 0, n
	if v, ok := args["after"].(string); ok {
		i, valid := decodeCursor(v)
		if !valid {
			return gqlObject{}, gqlErrorf("INVALID_CURSOR_ARGUMENTS", "`%s` does not appear to be a valid cursor.", v)
		}
		lo = min(i+1, n)
	}
	if v, ok := args["before"].(string); ok {
		i, valid := decodeCursor(v)
		if !valid {
			return gqlObject{}, gqlErrorf("INVALID_CURSOR_ARGUMENTS", "`%s` does not appear to be a valid cursor.", v)
		}
		hi = max(lo, min(i, n))
	}
	start, end := lo, hi
	if first, ok := intArg(args, "first"); ok {
		end = min(hi, start+first)
	}
	if last, ok := intArg(args, "last"); ok {
		start = max(start, end-last)
	}
	conn := &gqlConn{typ: connType, edgeType: strings.TrimSuffix(connType, "Connection") + "Edge", total: n, start: start,
		hasNext: end < hi, hasPrev: start > lo}
	conn.page = make([]gqlObject, 0, end-start)
	for i := start; i < end; i++ {
		conn.page = append(conn.page, item(i))
	}
	return gqlObject{typ: connType, v: conn}, nil
}

// intArg reads an Int argument (variables arrive as int64 or json.Number).
func intArg(args map[string]any, name string) (int, bool) {
	switch v := args[name].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}
