package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// `/proliferate-linear rules`: everyone may list the routing rules; admins
// (see admin.go) add, remove and move them. Every change saves the whole
// list from the version it was read at, so two admins editing at once are
// told rather than silently undoing each other, and Service.SaveRules
// checks it against Linear first.

// doRules is the restricted action, as the refusal names it.
const doRules = "change the routing rules"

// rulesUsage says how to change the rules (mrkdwn: < > & escaped).
const rulesUsage = "Admins change them with `/proliferate-linear rules add &lt;matchers&gt; -&gt; &lt;actions&gt;` " +
	"(e.g. `rules add env=production type=*TimeoutError -&gt; team=ENG priority=urgent labels=timeout,backend`), " +
	"`rules remove N` and `rules move N M`.\n" +
	"Matchers: `project=` `env=` `level=` `type=` (globs such as `*TimeoutError`) `trigger=new_issue|spike|regression`. " +
	"Actions: `channel=` `team=` `assignee=` `priority=` `labels=a,b` `project=` `auto`."

// rulesCommand answers `rules …`; text is the whole command text.
func (b *Bot) rulesCommand(ctx context.Context, team, user, text string) reply {
	if b.svc == nil {
		return textReply(":warning: Routing rules are not available on this server.")
	}
	rest := strings.TrimSpace(text)
	rest = strings.TrimSpace(rest[len("rules"):]) // commandReply matched "rules" case-insensitively.
	verb, arg, _ := strings.Cut(rest, " ")
	verb = strings.ToLower(verb)
	arg = strings.TrimSpace(arg)
	if verb == "" || verb == "list" {
		return b.rulesList(ctx, team)
	}
	if verb != "add" && verb != "remove" && verb != "move" {
		return textReply("I don't know `rules " + escapeMrkdwn(alert.Truncate(strings.ReplaceAll(verb, "`", "'"), 40)) + "`. " + rulesUsage)
	}
	if r, ok := b.permitted(ctx, team, user, doRules); !ok {
		return r
	}
	set, err := b.svc.Rules(ctx)
	if err != nil {
		b.log.WarnContext(ctx, "read rules", "team", team, "err", err)
		return textReply(":warning: Could not read the rules. Please try again in a moment.")
	}
	rules := append([]alert.Rule(nil), set.Rules...)
	var done string
	switch verb {
	case "add":
		r, err := alert.ParseRule(arg)
		if err != nil {
			return textReply(":warning: The rule was not added: " + escapeMrkdwn(alert.RuleProblem(err)) + "\n" + rulesUsage)
		}
		rules = append(rules, r)
		done = fmt.Sprintf("Added rule %d", len(rules))
	case "remove":
		n, err := ruleNumber(arg, len(rules))
		if err != nil {
			return textReply(":warning: " + err.Error() + " Usage: `/proliferate-linear rules remove N`.")
		}
		rules = append(rules[:n-1], rules[n:]...)
		done = fmt.Sprintf("Removed rule %d", n)
	case "move":
		from, to, _ := strings.Cut(arg, " ")
		n, err := ruleNumber(from, len(rules))
		if err == nil {
			var m int
			if m, err = ruleNumber(strings.TrimSpace(to), len(rules)); err == nil {
				r := rules[n-1]
				rules = append(rules[:n-1], rules[n:]...)
				rules = append(rules[:m-1], append([]alert.Rule{r}, rules[m-1:]...)...)
				done = fmt.Sprintf("Moved rule %d to %d", n, m)
			}
		}
		if err != nil {
			return textReply(":warning: " + err.Error() + " Usage: `/proliferate-linear rules move N M`.")
		}
	}
	saved, err := b.svc.SaveRules(ctx, rules, set.Version)
	if err != nil {
		b.log.WarnContext(ctx, "save rules", "team", team, "user", user, "verb", verb, "err", err)
		return textReply(":warning: The rules were not changed: " + escapeMrkdwn(alert.RuleProblem(err)))
	}
	b.log.InfoContext(ctx, "rules changed from slack", "team", team, "user", user, "verb", verb, "rules", len(saved.Rules))
	return textReply(done + ".\n" + b.rulesText(ctx, team, saved.Rules))
}

// ruleNumber reads a 1-based rule number within 1..n.
func ruleNumber(s string, n int) (int, error) {
	if n == 0 {
		return 0, errors.New("There are no rules yet.")
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || i < 1 || i > n {
		return 0, fmt.Errorf("Give a rule number from 1 to %d, as `/proliferate-linear rules` lists them.", n)
	}
	return i, nil
}

// rulesList answers `rules`: the list, for everyone.
func (b *Bot) rulesList(ctx context.Context, team string) reply {
	set, err := b.svc.Rules(ctx)
	if err != nil {
		b.log.WarnContext(ctx, "read rules", "team", team, "err", err)
		return textReply(":warning: Could not read the rules. Please try again in a moment.")
	}
	return textReply(b.rulesText(ctx, team, set.Rules) + "\n" + rulesUsage)
}

// rulesText lists rules numbered, first match first, and where the rest goes.
func (b *Bot) rulesText(ctx context.Context, team string, rules []alert.Rule) string {
	var sb strings.Builder
	fallback := "the default team"
	if key := b.defaultTeamKey(ctx, team); key != "" {
		fallback += " `" + escapeMrkdwn(key) + "`"
	}
	if len(rules) == 0 {
		return "*Routing rules:* none yet; every alert goes to " + fallback + "."
	}
	fmt.Fprintf(&sb, "*Routing rules* (the first that matches an alert applies; the others go to %s):", fallback)
	for i, r := range rules {
		line := fmt.Sprintf("\n%d. `%s`", i+1, escapeMrkdwn(strings.ReplaceAll(alert.FormatRule(r), "`", "'")))
		if sb.Len()+len(line) > maxText-20 {
			sb.WriteString("\n…")
			break
		}
		sb.WriteString(line)
	}
	return sb.String()
}

// applyRoute applies the routing rule that matches form's alert: its
// priority goes into the form, and the team key the modal starts with is
// returned (the rule's, else defaultKey). The rules are a local read of
// the store, not Service.RecentRules: that snapshot lags a save on another
// replica by up to a second, and the next click must see a rule edit.
func (b *Bot) applyRoute(ctx context.Context, log *slog.Logger, form *createForm, defaultKey string) string {
	set, err := b.svc.Rules(ctx)
	if err != nil {
		log.WarnContext(ctx, "create modal: rules", "err", err)
		return defaultKey
	}
	form.Route = alert.Match(set.Rules, form.Alert, defaultKey)
	if form.Route.N > 0 && form.Route.Rule.HasPriority && form.Values.Priority == alert.PriorityNone {
		form.Values.Priority = form.Route.Rule.Priority
	}
	return form.Route.TeamKey
}

// routeLine says which rule chose the form's defaults.
func routeLine(r alert.Route) string {
	return mrkdwnWithin(fmt.Sprintf("Routing rule %d applied: %s", r.N, alert.FormatRule(r.Rule)), 500)
}
