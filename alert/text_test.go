package alert

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleAlert() Alert {
	return Alert{
		ID: 7, ErrorID: "err_42", Channel: "C1", URL: "https://app.proliferate.dev/acme/issues/err_42",
		Project: "web", ErrorType: "TypeError", ErrorMessage: "Cannot read properties of undefined (reading 'id')\nat line 2",
		Stack: "at render (app.js:10:5)\nat main (app.js:1:1)", Environment: "production", Release: "v1.4.2",
		FirstSeen: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC),
		EventCount: 345, UsersAffected: 12,
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		typ, msg  string
		errorID   string
		wantTitle string
	}{
		{"type and message", "TypeError", "boom", "e1", "TypeError: boom"},
		{"first line of message only", "TypeError", "boom\nmore", "e1", "TypeError: boom"},
		{"type only", "PanicError", "  ", "e1", "PanicError"},
		{"message only", "", "disk full", "e1", "disk full"},
		{"neither", "", "", "e1", "Error e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Alert{ErrorType: tt.typ, ErrorMessage: tt.msg, ErrorID: tt.errorID}
			if got := a.Title(); got != tt.wantTitle {
				t.Errorf("Title() = %q, want %q", got, tt.wantTitle)
			}
		})
	}
}

func TestDescriptionHasEveryFact(t *testing.T) {
	t.Parallel()
	d := Description(sampleAlert())
	for _, want := range []string{
		"**TypeError**", "Cannot read properties of undefined", "at render (app.js:10:5)",
		"2026-11-20 08:00 UTC", "2026-11-23 09:30 UTC", "**Users affected:** 12", "**Events:** 345",
		"production", "v1.4.2", "(https://app.proliferate.dev/acme/issues/err_42)", AutoCreatedSentence,
	} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
}

func TestDescriptionWithinCutsOnlyTheStack(t *testing.T) {
	t.Parallel()
	a := sampleAlert()
	a.Stack = strings.Repeat("at frame (file.js:1:1) ünïcode\n", 500)
	full := Description(a)
	if utf8.RuneCountInString(full) <= 3000 {
		t.Fatalf("test stack too short: %d runes", utf8.RuneCountInString(full))
	}
	cut := DescriptionWithin(a, 3000)
	if n := utf8.RuneCountInString(cut); n > 3000 {
		t.Fatalf("DescriptionWithin = %d runes, want ≤ 3000", n)
	}
	for _, want := range []string{AutoCreatedSentence, "**Events:** 345", "full stack trace is in Proliferate", "at frame"} {
		if !strings.Contains(cut, want) {
			t.Errorf("cut description lacks %q", want)
		}
	}
	if short := DescriptionWithin(sampleAlert(), 3000); short != Description(sampleAlert()) {
		t.Errorf("a short description must not change")
	}
}

func TestDescriptionFenceSurvivesBackticks(t *testing.T) {
	t.Parallel()
	a := sampleAlert()
	a.Stack = "```\nrm -rf /\n```"
	d := Description(a)
	if !strings.Contains(d, "````\n```\nrm -rf /\n```\n````") {
		t.Errorf("stack with backticks not fenced safely:\n%s", d)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := Truncate("héllo wörld", 5); got != "héll…" || utf8.RuneCountInString(got) != 5 {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("short", 75); got != "short" {
		t.Errorf("Truncate = %q", got)
	}
}

func TestUserMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrUnauthorized), "Linear token expired or revoked: reconnect"},
		{fmt.Errorf("x: %w", ErrForbidden), "missing a Linear permission"},
		{fmt.Errorf("x: %w", ErrInvalidInput), "team or assignee is invalid"},
		{Temporary(fmt.Errorf("x: %w", ErrRateLimited), time.Minute), "rate limit"},
		{fmt.Errorf("x: %w", ErrNotConnected), "/proliferate-linear connect"},
		{&AlreadyLinkedError{Link: IssueLink{Identifier: "ENG-1", URL: "https://linear.app/a/issue/ENG-1"}}, "already tracked in Linear as ENG-1"},
		{fmt.Errorf("x: %w", ErrOtherWorkspace), "another Linear workspace"},
		{errors.New("pq: relation does not exist"), "Something went wrong on our side"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := UserMessage(tt.err)
			if !strings.Contains(got, tt.want) {
				t.Errorf("UserMessage(%v) = %q, want it to contain %q", tt.err, got, tt.want)
			}
			if strings.Contains(got, "pq:") {
				t.Errorf("internal detail leaked: %q", got)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for attempts := range 20 {
		d := backoff(attempts)
		base := min(time.Second<<min(attempts, 9), 5*time.Minute)
		if d < base*8/10 || d > base*12/10 {
			t.Errorf("backoff(%d) = %v, want within ±20%% of %v", attempts, d, base)
		}
	}
}
