package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// The routing rules in the App Home: listed for everyone; admins add a
// rule with a button and edit or remove one from its menu, each in a
// modal. The modal takes one rule in the syntax of `/proliferate-linear
// rules add` and a position, and its submission is checked exactly as the
// slash command's is (alert.ParseRule, then Service.SaveRules against
// Linear); what is wrong is said under the field. Every modal carries the
// version of the list it was opened from, so a save made after someone
// else changed the list is refused rather than undoing theirs.

const (
	// actionRuleAdd is the Home's "Add rule" button.
	actionRuleAdd = "home_rule_add"
	// actionRuleMenuPrefix + N is rule N's overflow menu (Edit…, Remove…);
	// action_ids differ so that each rule's menu is its own element.
	actionRuleMenuPrefix = "home_rule:"
	callbackRuleEdit     = "rule_edit"
	callbackRuleRemove   = "rule_remove"
	blockRule            = "rule"
	actionRule           = "rule"
	blockRulePosition    = "rule_position"
	actionRulePosition   = "position"
	// maxRuleInput bounds the rule's text field.
	maxRuleInput = 2000
)

// ruleMeta is the rule modals' private_metadata.
type ruleMeta struct {
	// N is the rule edited or removed (1-based); 0 adds one.
	N int `json:"n,omitempty"`
	// Version is the list's version when the modal opened.
	Version int64 `json:"version"`
}

func (m ruleMeta) encode() string {
	b, _ := json.Marshal(m) // ints always marshal.
	return string(b)
}

func decodeRuleMeta(s string) (ruleMeta, error) {
	var m ruleMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.N < 0 {
		return ruleMeta{}, fmt.Errorf("rule modal metadata: %w", alert.ErrInvalid)
	}
	return m, nil
}

// homeRules lists the rules in the Home; admins get the controls.
func homeRules(st homeState) []slack.Block {
	fallback := "the default team"
	if key := homeDefaultKey(st); key != "" {
		fallback += " `" + escapeMrkdwn(key) + "`"
	}
	var head string
	switch {
	case st.RulesErr != nil:
		head = ":warning: *Routing rules:* could not be read just now. Open the Home again in a moment."
	case len(st.Rules) == 0:
		head = "*Routing rules:* none yet; every alert goes to " + fallback + "."
	default:
		head = "*Routing rules* (the first that matches an alert applies; the others go to " + fallback + ")"
	}
	var acc *slack.Accessory
	if st.Admin && st.RulesErr == nil && len(st.Rules) < alert.MaxRules {
		add := slack.NewButtonBlockElement(actionRuleAdd, strconv.FormatInt(st.RulesVersion, 10), plain("Add rule"))
		acc = slack.NewAccessory(add)
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(head), nil, acc, slack.SectionBlockOptionBlockID("home_rules"))}
	for i, r := range st.Rules {
		n := i + 1
		text := fmt.Sprintf("%d. `%s`", n, ruleCode(r, maxText-20))
		var acc *slack.Accessory
		if st.Admin {
			v := strconv.FormatInt(st.RulesVersion, 10)
			menu := slack.NewOverflowBlockElement(actionRuleMenuPrefix+strconv.Itoa(n),
				slack.NewOptionBlockObject("edit:"+v, plain("Edit…"), nil),
				slack.NewOptionBlockObject("remove:"+v, plain("Remove…"), nil))
			acc = slack.NewAccessory(menu)
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, acc, slack.SectionBlockOptionBlockID(fmt.Sprintf("home_rule_%d", n))))
	}
	if !st.Admin && st.RulesRestricted != "" && st.RulesErr == nil {
		blocks = append(blocks, slack.NewContextBlock("home_rules_restricted", mrkdwn(st.RulesRestricted)))
	}
	return blocks
}

// homeDefaultKey is the team key alerts no rule matches go to.
func homeDefaultKey(st homeState) string {
	if st.Conn != nil && st.Conn.DefaultTeamKey != "" {
		return st.Conn.DefaultTeamKey
	}
	return st.ConfigDefault
}

// ruleCode is a rule in the syntax, cut to n and safe inside `…`.
func ruleCode(r alert.Rule, n int) string {
	return escapeMrkdwn(alert.Truncate(strings.ReplaceAll(alert.FormatRule(r), "`", "'"), n))
}

// ruleMenu handles a pick in rule n's menu: "edit:V" or "remove:V", V
// the version of the list the Home showed.
func (b *Bot) ruleMenu(ctx context.Context, cb slack.InteractionCallback, n int, pick string) {
	verb, v, _ := strings.Cut(pick, ":")
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil || (verb != "edit" && verb != "remove") {
		return
	}
	b.openRuleModal(ctx, cb, verb, n, version)
}

// openRuleModal opens the add, edit or remove modal from the Home (fast
// lane: the store and Slack only). A member, or a Home showing an older
// list than the stored one, gets the Home again with why instead.
func (b *Bot) openRuleModal(ctx context.Context, cb slack.InteractionCallback, verb string, n int, version int64) {
	log := b.log.With("user", cb.User.ID, "verb", verb, "rule", n)
	team, user := cb.Team.ID, cb.User.ID
	if r, ok := b.permitted(ctx, team, user, doRules); !ok {
		b.publishHome(ctx, team, user, &r)
		return
	}
	set, err := b.svc.Rules(ctx)
	if err != nil {
		log.WarnContext(ctx, "home rules: read", "err", err)
		b.publishHome(ctx, team, user, ptr(textReply(":warning: Could not read the rules. Please try again in a moment.")))
		return
	}
	if set.Version != version || n > len(set.Rules) {
		b.publishHome(ctx, team, user, ptr(textReply(":warning: The rules changed since this Home was shown; here they are now. Try again.")))
		return
	}
	meta := ruleMeta{N: n, Version: set.Version}
	var v slack.ModalViewRequest
	switch verb {
	case "remove":
		v = ruleRemoveModal(set.Rules[n-1], meta, "")
	case "edit":
		v = ruleEditModal(set.Rules, meta, alert.FormatRule(set.Rules[n-1]))
	default:
		v = ruleEditModal(set.Rules, meta, "")
	}
	b.openView(ctx, log, cb.TriggerID, v)
}

// ruleEditModal is the add (meta.N 0) or edit form: the rule in the
// syntax and where it goes in the list.
func ruleEditModal(rules []alert.Rule, meta ruleMeta, text string) slack.ModalViewRequest {
	title := "Add routing rule"
	if meta.N > 0 {
		title = fmt.Sprintf("Edit rule %d", meta.N)
	}
	in := slack.NewPlainTextInputBlockElement(plain("env=production type=*TimeoutError -> team=ENG"), actionRule)
	in.InitialValue = alert.Truncate(text, maxRuleInput)
	in.MaxLength = maxRuleInput
	in.Multiline = true
	blocks := []slack.Block{
		slack.NewInputBlock(blockRule, plain("Rule"), plain("<matchers> -> <actions>; a value with spaces in quotes."), in),
		slack.NewContextBlock("rule_help", mrkdwn(escapeMrkdwn(
			"Matchers (all given must hold): project= env= level= type= (exact or a glob: *TimeoutError), "+
				"trigger=new_issue|spike|regression. "+
				"Actions: channel= team=KEY assignee= priority=none|urgent|high|medium|low labels=a,b project= auto. "+
				"Assignee, labels, project and auto need team=. Saving checks it against Linear."))),
	}
	if meta.N > 0 {
		blocks = append(blocks, slack.NewContextBlock("rule_current", mrkdwn(fmt.Sprintf("Now: `%s`", ruleCode(rules[meta.N-1], 2900)))))
	}
	// Positions: 1..len for an edit, 1..len+1 for an add (last by default).
	count := len(rules)
	if meta.N == 0 {
		count++
	}
	opts := make([]*slack.OptionBlockObject, 0, count)
	for i := 1; i <= count; i++ {
		opts = append(opts, slack.NewOptionBlockObject(strconv.Itoa(i), plain(positionText(i, count)), nil))
	}
	pos := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, actionRulePosition, opts...)
	pos.InitialOption = opts[count-1]
	if meta.N > 0 {
		pos.InitialOption = opts[meta.N-1]
	}
	blocks = append(blocks, slack.NewInputBlock(blockRulePosition, plain("Position"),
		plain("The first rule that matches an alert applies."), pos))
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callbackRuleEdit, Title: plain(title),
		Submit: plain("Save"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks}, PrivateMetadata: meta.encode(),
	}
}

func positionText(i, count int) string {
	switch {
	case count == 1:
		return "1 (the only rule)"
	case i == 1:
		return "1 (first)"
	case i == count:
		return fmt.Sprintf("%d (last)", i)
	}
	return strconv.Itoa(i)
}

// ruleRemoveModal asks to confirm removing r; problem, when set, says why
// the last try did not.
func ruleRemoveModal(r alert.Rule, meta ruleMeta, problem string) slack.ModalViewRequest {
	blocks := []slack.Block{}
	if problem != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: "+mrkdwnWithin(problem, maxText-11)), nil, nil, slack.SectionBlockOptionBlockID("rule_problem")))
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("Remove rule %d?\n`%s`", meta.N, ruleCode(r, 2900))), nil, nil,
		slack.SectionBlockOptionBlockID("rule_remove")))
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callbackRuleRemove, Title: plain(fmt.Sprintf("Remove rule %d", meta.N)),
		Submit: plain("Remove"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks}, PrivateMetadata: meta.encode(),
	}
}

// ruleSubmitAck handles a rule modal's submission. The save is checked
// against Linear before the ack, so that what is wrong appears under the
// field (response_action "errors"); the check is bounded by b.linkBudget.
func (b *Bot) ruleSubmitAck(cb slack.InteractionCallback) *deferredAck {
	block := blockRule
	if cb.View.CallbackID == callbackRuleRemove {
		block = ""
	}
	busy := "Too many requests at once. Nothing was saved; please submit again in a moment."
	d := &deferredAck{kind: "rule submission", answer: func(ctx context.Context) (any, job) { return b.saveRuleModal(ctx, cb) }}
	if block != "" {
		d.busy = slack.NewErrorsViewSubmissionResponse(map[string]string{block: busy})
	} else {
		d.busy = slack.NewUpdateViewSubmissionResponse(ptr(infoModal(":warning: "+busy, modalMeta{})))
	}
	return d
}

// saveRuleModal returns the ack of a rule modal's submission and, when the
// rules were saved, the job that shows them in the person's Home.
func (b *Bot) saveRuleModal(ctx context.Context, cb slack.InteractionCallback) (any, job) {
	team, user, view := cb.Team.ID, cb.User.ID, cb.View
	log := b.log.With("team", team, "user", user, "view_id", view.ID, "callback", view.CallbackID)
	remove := view.CallbackID == callbackRuleRemove
	meta, err := decodeRuleMeta(view.PrivateMetadata)
	if err != nil || (remove && meta.N == 0) {
		return slack.NewUpdateViewSubmissionResponse(ptr(infoModal(":warning: This form is damaged. Close it and start again from the Home.", modalMeta{}))), nil
	}
	refuse := func(msg string) any {
		if !remove {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockRule: msg})
		}
		set, err := b.svc.Rules(ctx)
		if err != nil || meta.N > len(set.Rules) {
			return slack.NewUpdateViewSubmissionResponse(ptr(infoModal(":warning: "+escapeMrkdwn(msg), modalMeta{})))
		}
		return slack.NewUpdateViewSubmissionResponse(ptr(ruleRemoveModal(set.Rules[meta.N-1], meta, escapeMrkdwn(msg))))
	}
	// The modal was opened by an admin; the submission is checked again.
	if r, ok := b.permitted(ctx, team, user, doRules); !ok {
		return refuse(slackToPlain(r.Text)), nil
	}
	var rule alert.Rule
	pos := meta.N
	if !remove {
		st := view.State
		if st == nil {
			return refuse("Write the rule."), nil
		}
		text := strings.TrimSpace(st.Values[blockRule][actionRule].Value)
		if rule, err = alert.ParseRule(text); err != nil {
			return refuse(alert.RuleProblem(err)), nil
		}
		if p, err := strconv.Atoi(st.Values[blockRulePosition][actionRulePosition].SelectedOption.Value); err == nil {
			pos = p
		}
	}
	set, err := b.svc.Rules(ctx)
	if err != nil {
		log.WarnContext(ctx, "rule modal: read rules", "err", err)
		return refuse("Could not read the rules (our database did not answer). Nothing was saved; please submit again."), nil
	}
	if set.Version != meta.Version || meta.N > len(set.Rules) {
		return refuse("Someone changed the rules since you opened this. Nothing was saved: close it and start again from the Home, which shows them as they are now."), nil
	}
	rules, at, done := placeRule(set.Rules, meta.N, pos, rule, remove)

	cctx, cancel := context.WithTimeout(ctx, b.linkBudget)
	saved, err := b.svc.SaveRules(cctx, rules, set.Version)
	late := cctx.Err() != nil
	cancel()
	if err != nil {
		log.InfoContext(ctx, "rule modal: not saved", "err", err)
		// The form holds one rule: what is wrong with it needs no number.
		msg := strings.TrimPrefix(alert.RuleProblem(err), fmt.Sprintf("rule %d: ", at))
		if late {
			msg = "Linear did not answer in time to check the rule. Nothing was saved; please submit again in a moment."
		}
		return refuse(msg), nil
	}
	log.InfoContext(ctx, "rules changed from the home", "rules", len(saved.Rules), "version", saved.Version)
	notice := textReply(":white_check_mark: " + done + ".")
	return slack.NewClearViewSubmissionResponse(), func(ctx context.Context) { b.publishHome(ctx, team, user, &notice) }
}

// placeRule returns rules with rule n (1-based; 0 for a new rule) replaced
// by rule at position pos, or removed; where the rule now is (0 when
// removed) and what was done.
func placeRule(rules []alert.Rule, n, pos int, rule alert.Rule, remove bool) ([]alert.Rule, int, string) {
	out := slices.Clone(rules)
	if n > 0 {
		out = slices.Delete(out, n-1, n)
	}
	if remove {
		return out, 0, fmt.Sprintf("Removed rule %d", n)
	}
	pos = min(max(pos, 1), len(out)+1)
	out = slices.Insert(out, pos-1, rule)
	switch {
	case n == 0:
		return out, pos, fmt.Sprintf("Added rule %d", pos)
	case n != pos:
		return out, pos, fmt.Sprintf("Saved rule %d, now rule %d", n, pos)
	}
	return out, pos, fmt.Sprintf("Saved rule %d", n)
}

// slackToPlain undoes mrkdwn escaping for a field error, which Slack shows
// as plain text.
func slackToPlain(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// homeRulesState reads the rules into st.
func (b *Bot) homeRulesState(ctx context.Context, log *slog.Logger, st *homeState) {
	st.RulesRestricted = b.refusal(doRules)
	if b.svc == nil {
		return
	}
	set, err := b.svc.Rules(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.WarnContext(ctx, "home: rules", "err", err)
		st.RulesErr = err
		return
	}
	st.Rules, st.RulesVersion = set.Rules, set.Version
}
