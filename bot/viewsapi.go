package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// views.open and views.update are called here rather than through
// slack-go's OpenViewContext and UpdateViewContext: those decode the whole
// view Slack echoes back into Block Kit types, block by block, which was
// the largest part of the CPU a click costs (200 clicks at once on two
// cores), and the bot keeps only the view's id and hash (for the next
// views.update). The request, the errors and the rate limit are as
// slack-go's: the same JSON body, slack.SlackErrorResponse for an answer
// with "ok": false, *slack.RateLimitedError for a 429 with Retry-After,
// slack.StatusCodeError for any other status.
// https://api.slack.com/methods/views.open, https://api.slack.com/methods/views.update

// defaultSlackAPI is the Web API's base when Config.APIURL is empty.
const defaultSlackAPI = "https://slack.com/api/"

// viewAnswer is what the bot reads of a views.* answer.
type viewAnswer struct {
	OK               bool                   `json:"ok"`
	Error            string                 `json:"error"`
	Needed           string                 `json:"needed"`
	Provided         string                 `json:"provided"`
	ResponseMetadata slack.ResponseMetadata `json:"response_metadata"`
	View             struct {
		ID   string `json:"id"`
		Hash string `json:"hash"`
	} `json:"view"`
}

// viewsOpen opens v with trigger and returns the opened view: its ID and
// hash only.
func (b *Bot) viewsOpen(ctx context.Context, trigger string, v slack.ModalViewRequest) (*slack.View, error) {
	if trigger == "" {
		return nil, slack.ErrParametersMissing
	}
	return b.callViews(ctx, "views.open", v, struct {
		TriggerID string                 `json:"trigger_id"`
		View      slack.ModalViewRequest `json:"view"`
	}{trigger, v})
}

// viewsUpdate replaces the view viewID with v, guarded by hash when it is
// not empty, and returns the new view's ID and hash.
func (b *Bot) viewsUpdate(ctx context.Context, v slack.ModalViewRequest, hash, viewID string) (*slack.View, error) {
	if viewID == "" {
		return nil, slack.ErrParametersMissing
	}
	return b.callViews(ctx, "views.update", v, struct {
		View   slack.ModalViewRequest `json:"view"`
		Hash   string                 `json:"hash,omitempty"`
		ViewID string                 `json:"view_id"`
	}{v, hash, viewID})
}

func (b *Bot) callViews(ctx context.Context, method string, v slack.ModalViewRequest, body any) (*slack.View, error) {
	if !slack.ValidateUniqueBlockID(v) {
		return nil, slack.ErrBlockIDNotUnique
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, or(b.apiURL, defaultSlackAPI)+method, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+b.botToken)
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
		secs, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: 429 with Retry-After %q: %w", method, resp.Header.Get("Retry-After"), err)
		}
		return nil, &slack.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	var a viewAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("%s answer: %w", method, err)
	}
	if !a.OK {
		code := a.Error
		if code == "" {
			code = "unknown_error"
		}
		return nil, slack.SlackErrorResponse{Err: code, ResponseMetadata: a.ResponseMetadata, Needed: a.Needed, Provided: a.Provided}
	}
	return &slack.View{ID: a.View.ID, Hash: a.View.Hash}, nil
}
