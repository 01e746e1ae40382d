package oauth

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// maxPeek bounds how much of a 400 answer is read to look for Linear's
// AUTHENTICATION_ERROR; its error bodies are a few hundred bytes.
const maxPeek = 64 << 10

// contextSource is a token source that takes the request's context, as
// *TokenSource does.
type contextSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// rejecter learns which access token Linear refused, as *TokenSource does.
type rejecter interface {
	reject(ctx context.Context, accessToken string)
}

// Transport authenticates requests with `Authorization: Bearer <token>` from
// ts, so that
//
//	linear.New(linear.Endpoint, &http.Client{Transport: oauth.Transport(ts, nil), Timeout: 15 * time.Second}, log)
//
// talks OAuth. base nil means http.DefaultTransport.
//
// When ts is a *TokenSource the transport is also its ear: Linear refuses a
// token with HTTP 401 or with HTTP 400 and an AUTHENTICATION_ERROR
// (https://linear.app/developers/graphql#errors), and the transport tells the
// source which access token was refused. The source then refreshes once, and
// marks the connection for reconnection if Linear refuses again; nothing
// else needs wiring. (Wrap ts in nothing that hides it, such as
// oauth2.ReuseTokenSource: it caches on its own already.)
func Transport(ts oauth2.TokenSource, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{ts: ts, base: base}
}

type transport struct {
	ts   oauth2.TokenSource
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper; it never changes req.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var tok *oauth2.Token
	var err error
	if cs, ok := t.ts.(contextSource); ok {
		tok, err = cs.TokenContext(ctx)
	} else {
		tok, err = t.ts.Token()
	}
	if err != nil {
		if req.Body != nil { // the RoundTripper contract: close it, even on error
			_ = req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(ctx)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if rj, ok := t.ts.(rejecter); ok && refused(resp) {
		rj.reject(ctx, tok.AccessToken)
		return t.retry(req, resp, tok.AccessToken, rj)
	}
	return resp, nil
}

// retry sends req once more after Linear refused refusedToken, if the
// token source now has another token (it refreshed) and the body can be
// replayed: an access token Linear ended early costs the caller nothing.
// A refused request ran nothing at Linear, so repeating it is safe even
// for mutations. A second refusal is reported to the source, which then
// asks for a reconnect; without a new token the first answer stands.
func (t *transport) retry(req *http.Request, first *http.Response, refusedToken string, rj rejecter) (*http.Response, error) {
	ctx := req.Context()
	cs, ok := t.ts.(contextSource)
	if !ok || req.GetBody == nil {
		return first, nil
	}
	tok, err := cs.TokenContext(ctx)
	if err != nil || tok.AccessToken == refusedToken {
		return first, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return first, nil
	}
	_ = first.Body.Close()
	r := req.Clone(ctx)
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if refused(resp) {
		rj.reject(ctx, tok.AccessToken)
	}
	return resp, nil
}

// String keeps whatever ts holds out of logs.
func (t *transport) String() string { return "oauth.Transport" }

// refused says Linear refused the credentials: HTTP 401, or a 400 whose
// GraphQL errors carry code AUTHENTICATION_ERROR. It leaves resp.Body as
// it found it for the caller.
func refused(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusBadRequest:
	default:
		return false
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return false
	}
	peek, err := io.ReadAll(io.LimitReader(resp.Body, maxPeek))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	return bytes.Contains(peek, []byte(`"AUTHENTICATION_ERROR"`))
}

type readCloser struct {
	io.Reader
	io.Closer
}
