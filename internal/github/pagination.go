package github

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strings"
)

// perPage is the largest page every endpoint we list accepts.
const perPage = "100"

// pages fetches first and then each page its Link header names as rel="next",
// decoding every page into a fresh P and handing it to each, until there is no next
// page or each returns false or an error.
func pages[P any](ctx context.Context, c *Client, op, first string, each func(P) (more bool, err error)) error {
	next := first
	for next != "" {
		var page P
		resp, err := c.get(ctx, op, next, &page)
		if err != nil {
			return err
		}
		more, err := each(page)
		if err != nil || !more {
			return err
		}
		next, err = c.nextPage(resp.Header.Get("Link"))
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

// list iterates over an endpoint that answers a JSON array, page by page, with
// conditional requests. convert turns an item into ours; keep=false skips it.
func list[T, R any](ctx context.Context, c *Client, op, first string, convert func(*T) (r R, keep bool)) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		stopped := false
		err := pages(conditional(ctx), c, op, first, func(page []*T) (bool, error) {
			for _, item := range page {
				if item == nil {
					continue
				}
				r, keep := convert(item)
				if keep && !yield(r, nil) {
					stopped = true
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil && !stopped {
			var zero R
			yield(zero, err)
		}
	}
}

// nextPage returns the rel="next" URL of a Link header ("" when there is none). It
// must be on the API origin: the client follows no link elsewhere.
func (c *Client) nextPage(link string) (string, error) {
	next := parseNextLink(link)
	if next == "" {
		return "", nil
	}
	u, err := c.origin.Parse(next)
	if err != nil {
		return "", fmt.Errorf("next page link %q: %w", next, err)
	}
	if !sameOrigin(u, c.origin) {
		return "", fmt.Errorf("next page link leads to another host (%s): not followed", u.Host)
	}
	return u.String(), nil
}

// parseNextLink reads `<url>; rel="next"` out of a Link header.
func parseNextLink(header string) string {
	for part := range strings.SplitSeq(header, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
			if strings.EqualFold(name, "rel") && hasToken(strings.Trim(value, `"`), "next") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

func hasToken(list, token string) bool {
	for _, t := range strings.Fields(list) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

// withQuery appends an encoded query to a path.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
