package linear

import (
	"context"
	"net/http"
)

// APIKeyTransport authenticates requests with a Linear personal API key.
// Linear expects the bare key, `Authorization: <key>`, with no "Bearer"
// prefix (https://linear.app/developers/graphql#personal-api-keys); OAuth
// access tokens use "Bearer", which golang.org/x/oauth2's Transport adds, so
// either transport slots into the same http.Client.
type APIKeyTransport struct {
	Key string
	// Base is the transport that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper. It never changes req (the
// RoundTripper contract): the header goes on a clone.
func (t *APIKeyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", t.Key)
	return base.RoundTrip(r)
}

// String keeps the key out of %v and %+v.
func (t *APIKeyTransport) String() string { return "linear.APIKeyTransport{Key: [redacted]}" }

// GoString keeps the key out of %#v.
func (t *APIKeyTransport) GoString() string { return t.String() }

// respMeta is what genqlient does not expose of an HTTP response: the
// status and the headers (Linear's rate-limit headers). One is put in the
// context of each call, so concurrent calls never share one.
type respMeta struct {
	status int
	header http.Header
}

type metaKey struct{}

// metaDoer is the graphql.Doer that records each response's status and
// headers in the respMeta of the request's context.
type metaDoer struct{ hc *http.Client }

func (d metaDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req)
	if m, ok := req.Context().Value(metaKey{}).(*respMeta); ok && resp != nil {
		m.status = resp.StatusCode
		m.header = resp.Header.Clone()
	}
	return resp, err
}

func withMeta(ctx context.Context) (context.Context, *respMeta) {
	m := &respMeta{}
	return context.WithValue(ctx, metaKey{}, m), m
}

type opKey struct{}

// withOperation names the GraphQL operation a request's context carries.
func withOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// Operation is the name of the GraphQL operation (createIssue,
// issuesForURL, …) whose HTTP request carries ctx, or "" for a request
// this package did not make. An instrumented http.RoundTripper reads it
// from the request's context to label what it counts.
func Operation(ctx context.Context) string {
	op, _ := ctx.Value(opKey{}).(string)
	return op
}
