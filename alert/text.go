package alert

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// AutoCreatedSentence ends every description the bot writes; users search
// Linear for it.
const AutoCreatedSentence = "This issue was automatically created from Proliferate."

// Description is the Markdown description of a Linear issue for alert a,
// with the whole stack trace. It is what Linear receives unless the user
// edited the pre-filled text.
func Description(a Alert) string { return description(a, -1, "") }

// DescriptionWithin is Description cut to at most max runes (a Slack input
// holds 3000) by shortening the stack trace, never the facts around it.
func DescriptionWithin(a Alert, max int) string {
	full := description(a, -1, "")
	if utf8.RuneCountInString(full) <= max {
		return full
	}
	// Start from the room the stack would have without its header and
	// fences, then shrink by whatever the result still overshoots (the fence
	// length depends on the cut stack, so one pass is not always enough).
	room := max - utf8.RuneCountInString(description(a, 0, ""))
	for room > 0 {
		d := description(a, room, "")
		over := utf8.RuneCountInString(d) - max
		if over <= 0 {
			return d
		}
		room -= over
	}
	return truncateRunes(description(a, 0, ""), max)
}

const stackCut = "\n… (cut; the full stack trace is in Proliferate)"

// description renders the template; stackRoom < 0 keeps the whole stack,
// otherwise the stack is cut to stackRoom runes. thread, when set, is the
// Slack thread's permalink, linked beside the error.
func description(a Alert, stackRoom int, thread string) string {
	if a.FromSlackMessage() {
		return MessageDescription(a.ErrorMessage, "", or(thread, a.URL), -1)
	}
	var b strings.Builder
	typ := a.ErrorType
	if typ == "" {
		typ = "Error"
	}
	fmt.Fprintf(&b, "**%s**: %s\n\n", typ, strings.TrimSpace(a.ErrorMessage))
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "- **%s:** %s\n", k, v)
		}
	}
	row("Project", a.Project)
	row("Environment", a.Environment)
	row("Release", a.Release)
	row("First seen", formatTime(a.FirstSeen))
	row("Last seen", formatTime(a.LastSeen))
	row("Users affected", fmt.Sprint(a.UsersAffected))
	row("Events", fmt.Sprint(a.EventCount))
	if a.URL != "" {
		fmt.Fprintf(&b, "\n[View the error in Proliferate](%s)\n", a.URL)
	}
	if thread != "" {
		fmt.Fprintf(&b, "\n[Discussion in Slack](%s)\n", thread)
	}
	if stack := strings.TrimRight(a.Stack, "\n "); stack != "" && stackRoom != 0 {
		if stackRoom > 0 && utf8.RuneCountInString(stack) > stackRoom {
			stack = truncateRunes(stack, stackRoom) + stackCut
		}
		// A fence longer than any backtick run inside keeps the stack intact.
		fence := strings.Repeat("`", max(3, longestRun(stack, '`')+1))
		fmt.Fprintf(&b, "\n### Stack trace\n%s\n%s\n%s\n", fence, stack, fence)
	}
	b.WriteString("\n---\n" + AutoCreatedSentence + "\n")
	return b.String()
}

// MessageDescription is the Markdown description of an issue made from a
// Slack message with a shortcut: the message quoted, who posted it and its
// permalink, and AutoCreatedSentence. room < 0 keeps the whole quote;
// otherwise the result is cut to room runes by shortening the quote, never
// the lines around it (a Slack input holds 3000).
func MessageDescription(text, author, permalink string, room int) string {
	tail := "\n"
	switch {
	case author != "" && permalink != "":
		tail += fmt.Sprintf("Posted by %s in Slack: [open the message](%s)\n", author, permalink)
	case author != "":
		tail += fmt.Sprintf("Posted by %s in Slack.\n", author)
	case permalink != "":
		tail += fmt.Sprintf("Posted in Slack: [open the message](%s)\n", permalink)
	}
	tail += "\n---\n" + AutoCreatedSentence + "\n"
	text = strings.TrimSpace(text)
	if room >= 0 {
		quoteRoom := room - utf8.RuneCountInString(tail)
		// Each line gains "> "; cut until the quoted text fits.
		for quoteRoom > 0 && utf8.RuneCountInString(quote(text)) > quoteRoom {
			over := utf8.RuneCountInString(quote(text)) - quoteRoom
			text = truncateRunes(text, max(0, utf8.RuneCountInString(text)-over-1))
		}
	}
	return quote(text) + "\n" + tail
}

func quote(text string) string {
	if text == "" {
		return "> (no text)"
	}
	return "> " + strings.ReplaceAll(text, "\n", "\n> ")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func longestRun(s string, c rune) int {
	best, cur := 0, 0
	for _, r := range s {
		if r == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// truncateRunes cuts s to at most n runes, marking a cut with "…".
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Truncate cuts s to at most n runes, marking a cut with "…". Slack counts
// characters, not bytes, in its Block Kit limits.
func Truncate(s string, n int) string { return truncateRunes(s, n) }
