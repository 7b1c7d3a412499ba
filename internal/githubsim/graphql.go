package githubsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// The GraphQL endpoint, POST /graphql on the API host. Every query is parsed and
// validated against GitHub's published schema (graphql_schema.go), checked against the
// paging and node limits, charged in points from the token's GraphQL budget (its own
// hourly window, x-ratelimit-resource: graphql), held to the secondary limits (points a
// minute, requests in flight) and then run over the same world the REST API shows.

const graphqlPath = "/graphql"

// maxQueryBytes bounds a request body; GitHub's queries are a few kilobytes.
const maxQueryBytes = 1 << 20

type gqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

type gqlResponse struct {
	Data   any         `json:"data,omitempty"`
	Errors []*gqlError `json:"errors,omitempty"`
}

func (s *Simulator) graphqlEndpoint() http.Handler {
	resolvers := gqlResolvers()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, plan, rec := s.openCall(r)
		token := c.token
		if c.ent != nil {
			rec.Enterprise = c.ent.cfg.Slug
		}
		defer func() { s.record(rec) }()

		if plan.latency > 0 {
			if err := s.w.cfg.Sleep(r.Context(), plan.latency); err != nil {
				return
			}
		}
		requestID := c.requestID()
		h := w.Header()
		h.Set("X-GitHub-Request-Id", requestID)
		if c.ent == nil {
			rec.Status = http.StatusUnauthorized
			writeJSONError(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql", "status": "401"})
			return
		}
		if !c.ent.cfg.TokenExpiresAt.IsZero() {
			h.Set("github-authentication-token-expiration", c.ent.cfg.TokenExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		rateHeaders := func(h http.Header) { s.gqlRateHeaders(h, token, c.now) }
		if !s.enter(token) {
			rateHeaders(h)
			rec.Status = writeSecondaryLimit(w, requestID, time.Minute)
			return
		}
		defer s.leave(token)

		switch plan.kind {
		case FaultServerError, FaultSecondaryLimit, FaultReset:
			rec.Fault = plan.kind
			rec.Status = writeFault(w, plan, requestID, rateHeaders)
			return
		case FaultPrimaryLimit:
			rec.Fault = plan.kind
			rateHeaders(h)
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(c.now.Add(plan.cfg.PrimaryResetIn).Add(time.Second-1).Unix(), 10))
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: []*gqlError{gqlRateLimited(c.ent)}})
			return
		}

		body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBytes+1))
		if err != nil {
			rec.Status = http.StatusBadRequest
			writeJSONError(w, http.StatusBadRequest, map[string]any{"message": "Problems reading the body", "status": "400"})
			return
		}
		var req gqlRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if len(body) > maxQueryBytes || dec.Decode(&req) != nil {
			rec.Status = http.StatusBadRequest
			writeJSONError(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql", "status": "400"})
			return
		}
		rateHeaders(h)
		doc, op, vars, gerrs := s.parseGraphQL(req)
		if op != nil {
			rec.Operation = op.Name
		}
		if len(gerrs) > 0 {
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: gerrs})
			return
		}
		schema, _ := loadSchema() // parseGraphQL succeeded, so the schema loaded
		cost, gerr := analyze(schema, doc, op, vars)
		rec.Nodes = cost.nodes
		if gerr != nil {
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: []*gqlError{gerr}})
			return
		}
		if limit := plan.cfg.HeavyQueryNodes; limit > 0 && cost.nodes > limit && s.faultsMatch(r) {
			plan.kind = FaultTimeout
			plan.variant = 0 // the 502 form
		}

		points := cost.points()
		charge, refused := s.gqlCharge(token, c.now, points)
		switch refused {
		case gqlRefusedPrimary:
			rateHeaders(h)
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: []*gqlError{gqlRateLimited(c.ent)}})
			return
		case gqlRefusedSecondary:
			rateHeaders(h)
			rec.Status = writeSecondaryLimit(w, requestID, charge.retryAfter)
			return
		}
		rec.Charged, rec.Points = true, points
		rateHeaders(h)

		switch plan.kind {
		case FaultTimeout:
			rec.Fault = plan.kind
			if plan.variant%2 == 0 {
				rec.Status = http.StatusBadGateway
				writeJSONError(w, http.StatusBadGateway, map[string]any{
					"message":           "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.",
					"documentation_url": "https://docs.github.com/graphql",
				})
				return
			}
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: []*gqlError{{Message: "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `" + requestID + "` when reporting this issue."}}})
			return
		case FaultResourceLimits:
			rec.Fault = plan.kind
			rec.Status = writeGraphQL(w, http.StatusOK, gqlResponse{Errors: []*gqlError{{Type: "RESOURCE_LIMITS_EXCEEDED", Message: "Resource limits for this query exceeded."}}})
			return
		}

		x := &gqlExec{c: c, schema: schema, doc: doc, vars: vars, resolvers: resolvers,
			rate: gqlRateState{cost: points, limit: charge.limit, remaining: charge.remaining, used: charge.used, nodes: cost.nodes, reset: charge.reset}}
		data := x.execute(op)
		resp := gqlResponse{Data: data, Errors: x.errors}
		out, err := json.Marshal(resp)
		if err != nil {
			rec.Status = http.StatusInternalServerError
			writeJSONError(w, http.StatusInternalServerError, map[string]any{"message": "Server Error"})
			return
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		if plan.kind == FaultTruncated && len(out) > 1 {
			rec.Fault = plan.kind
			rec.Status = http.StatusOK
			writeTruncated(w, out, plan.variant)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(out)))
		rec.Status = http.StatusOK
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
}

// faultsMatch reports whether the fault configuration covers this request's path.
func (s *Simulator) faultsMatch(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.matches(HostAPI, r.URL.Path)
}

// parseGraphQL parses and validates the query against GitHub's schema, picks the
// operation and coerces its variables. Errors come back shaped as GitHub shapes them.
func (s *Simulator) parseGraphQL(req gqlRequest) (*ast.QueryDocument, *ast.OperationDefinition, map[string]any, []*gqlError) {
	if req.Query == "" {
		return nil, nil, nil, []*gqlError{{Message: "A query attribute must be specified and must be a string."}}
	}
	schema, err := loadSchema()
	if err != nil {
		return nil, nil, nil, []*gqlError{{Message: "githubsim: " + err.Error()}}
	}
	doc, err := parser.ParseQuery(&ast.Source{Name: "query", Input: req.Query})
	if err != nil {
		return nil, nil, nil, fromGQLErrors(err)
	}
	if errs := validator.ValidateWithRules(schema, doc, nil); len(errs) > 0 {
		return doc, nil, nil, fromGQLErrors(errs)
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		if req.OperationName != "" || len(doc.Operations) != 1 {
			return doc, nil, nil, []*gqlError{{Message: fmt.Sprintf("No operation named %q", req.OperationName)}}
		}
		op = doc.Operations[0]
	}
	if op.Operation != ast.Query {
		return doc, op, nil, []*gqlError{{Message: "githubsim serves queries only, not " + string(op.Operation) + "s"}}
	}
	vars, err := validator.VariableValues(schema, op, req.Variables)
	if err != nil {
		return doc, op, nil, fromGQLErrors(err)
	}
	return doc, op, vars, nil
}

func fromGQLErrors(err error) []*gqlError {
	var list gqlerror.List
	switch e := err.(type) {
	case gqlerror.List:
		list = e
	case *gqlerror.Error:
		list = gqlerror.List{e}
	default:
		return []*gqlError{{Message: err.Error()}}
	}
	out := make([]*gqlError, 0, len(list))
	for _, e := range list {
		ge := &gqlError{Message: e.Message, Extensions: map[string]any{"code": "validationError"}}
		if e.Rule != "" {
			ge.Extensions["code"] = e.Rule
		}
		for _, l := range e.Locations {
			ge.Locations = append(ge.Locations, gqlLocation{Line: l.Line, Column: l.Column})
		}
		for _, p := range e.Path {
			ge.Path = append(ge.Path, fmt.Sprint(p))
		}
		out = append(out, ge)
	}
	return out
}

func gqlRateLimited(e *enterprise) *gqlError {
	return &gqlError{Type: "RATE_LIMITED", Message: fmt.Sprintf("API rate limit already exceeded for user ID %d.", e.id)}
}

// writeSecondaryLimit answers GitHub's secondary-limit 403 with a Retry-After.
func writeSecondaryLimit(w http.ResponseWriter, requestID string, retryAfter time.Duration) int {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retryAfter.Seconds()+0.999))))
	writeJSONError(w, http.StatusForbidden, map[string]any{
		"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + requestID + ".",
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		"status":            "403",
	})
	return http.StatusForbidden
}

func writeGraphQL(w http.ResponseWriter, status int, resp gqlResponse) int {
	b, _ := json.Marshal(resp) // errors and nil data always encode
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
