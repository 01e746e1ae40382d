package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// The create modal's Labels and Project: the chosen team's labels (its own
// and the workspace's) in a multi-select, its projects in an optional
// select. Like the assignee, both live in blocks whose block_id carries the
// team, so picking another team gives fresh elements (Slack drops the old
// team's choices) and a submission never reads another team's labels.
const (
	blockLabelsPrefix  = "labels:"
	actionLabels       = "labels"
	blockProjectPrefix = "project:"
	actionProject      = "project"
	// maxIssueLabels bounds the labels picked in the modal; a rule adds at
	// most as many (alert's maxRuleLabels).
	maxIssueLabels = 20
)

// teamDetails is what the modal shows for a team beyond its name: members,
// labels and projects.
type teamDetails struct {
	Members  []alert.User
	Labels   []alert.Label
	Projects []alert.Project
}

// cachedDetails returns the team's details from the caches; ok is false
// unless all three are there.
func (b *Bot) cachedDetails(teamID string) (teamDetails, bool) {
	var d teamDetails
	var okM, okL, okP bool
	d.Members, okM = b.members.get(teamID)
	d.Labels, okL = b.labels.get(teamID)
	d.Projects, okP = b.projects.get(teamID)
	return d, okM && okL && okP
}

// loadDetails reads what the caches lack of the team's details from Linear,
// the three lists at once, so a slow Linear costs the modal one request's
// wait rather than three. The first failure in the order members, labels,
// projects is returned with the lists before it, as reading them one after
// another would: a failure cancels the reads after it in that order, never
// one before (whose error it would then mask).
func (b *Bot) loadDetails(ctx context.Context, teamID string) (teamDetails, error) {
	lctx, cancelLabels := context.WithCancel(ctx)
	defer cancelLabels()
	pctx, cancelProjects := context.WithCancel(lctx)
	defer cancelProjects()
	var (
		d                teamDetails
		errM, errL, errP error
		wg               sync.WaitGroup
	)
	wg.Go(func() {
		if d.Members, errM = b.memberList(ctx, teamID); errM != nil {
			cancelLabels() // and with it the projects.
		}
	})
	wg.Go(func() {
		if d.Labels, errL = b.labelList(lctx, teamID); errL != nil {
			cancelProjects()
		}
	})
	wg.Go(func() { d.Projects, errP = b.projectList(pctx, teamID) })
	wg.Wait()
	switch {
	case errM != nil:
		return teamDetails{}, errM
	case errL != nil:
		return teamDetails{Members: d.Members}, errL
	case errP != nil:
		return teamDetails{Members: d.Members, Labels: d.Labels}, errP
	}
	return d, nil
}

// labelList is the labels an issue of the team may carry, from the cache
// or Linear.
func (b *Bot) labelList(ctx context.Context, teamID string) ([]alert.Label, error) {
	return b.labels.load(ctx, teamID, "linear team labels", func(ctx context.Context) ([]alert.Label, error) {
		return b.svc.TeamLabels(ctx, teamID)
	})
}

// projectList is the team's projects, from the cache or Linear.
func (b *Bot) projectList(ctx context.Context, teamID string) ([]alert.Project, error) {
	return b.projects.load(ctx, teamID, "linear team projects", func(ctx context.Context) ([]alert.Project, error) {
		return b.svc.TeamProjects(ctx, teamID)
	})
}

// withDetails puts d in the form.
func (f *createForm) withDetails(d teamDetails) {
	f.Members, f.Labels, f.Projects = d.Members, d.Labels, d.Projects
}

// labelOptions lists at most 100 labels and returns the options of
// selected (found among all of them), in the order of selected.
func labelOptions(labels []alert.Label, selected []string) ([]*slack.OptionBlockObject, []*slack.OptionBlockObject) {
	return optionsOf(labels, selected, func(l alert.Label) (string, string) {
		if l.Workspace {
			return l.ID, l.Name + " (workspace)"
		}
		return l.ID, l.Name
	})
}

// optionsOf lists the options of at most 100 items (each item's value and
// text given by opt; an item whose value Slack would refuse is left out)
// and returns the options of the selected values too, found among all the
// items, in the order of selected.
func optionsOf[T any](items []T, selected []string, opt func(T) (value, text string)) (opts, sel []*slack.OptionBlockObject) {
	opts = make([]*slack.OptionBlockObject, 0, min(len(items), maxOptions))
	sel = make([]*slack.OptionBlockObject, len(selected))
	for _, it := range items {
		value, text := opt(it)
		if value == "" || len(value) > maxOptionValue {
			continue
		}
		o := slack.NewOptionBlockObject(value, plain(alert.Truncate(text, maxButtonText)), nil)
		if len(opts) < maxOptions {
			opts = append(opts, o)
		}
		if i := slices.Index(selected, value); i >= 0 {
			sel[i] = o
		}
	}
	return opts, slices.DeleteFunc(sel, func(o *slack.OptionBlockObject) bool { return o == nil })
}

// optionsOne is optionsOf with at most one selected value.
func optionsOne[T any](items []T, selected string, opt func(T) (value, text string)) ([]*slack.OptionBlockObject, *slack.OptionBlockObject) {
	opts, sel := optionsOf(items, []string{selected}, opt)
	if len(sel) == 0 {
		return opts, nil
	}
	return opts, sel[0]
}

// projectOptions lists at most 100 projects and returns the option of
// selected.
func projectOptions(projects []alert.Project, selected string) ([]*slack.OptionBlockObject, *slack.OptionBlockObject) {
	return optionsOne(projects, selected, func(p alert.Project) (string, string) { return p.ID, p.Name })
}

// labelsBlock is the optional Labels multi-select of the chosen team, nil
// while there is no team, its details are loading, or it has no labels.
// Past Slack's 100 options it becomes a search box.
func labelsBlock(f createForm) slack.Block {
	if f.TeamID == "" || f.MembersLoading {
		return nil
	}
	opts, sel := labelOptions(f.Labels, f.Values.LabelIDs)
	if len(opts) == 0 {
		return nil
	}
	labels := searchable{action: actionLabels, none: "No labels", search: "Type to search labels",
		hint: "%d labels: type part of a label's name."}
	el, hint := labels.multi(len(f.Labels), opts, sel)
	el.MaxSelectedItems = ptr(maxIssueLabels)
	return optionalInput(blockLabelsPrefix+f.TeamID, "Labels", hint, el)
}

// projectBlock is the optional Project select of the chosen team, nil when
// there is nothing to choose from.
func projectBlock(f createForm) slack.Block {
	if f.TeamID == "" || f.MembersLoading {
		return nil
	}
	opts, sel := projectOptions(f.Projects, f.Values.ProjectID)
	if len(opts) == 0 {
		return nil
	}
	projects := searchable{action: actionProject, none: "No project", search: "Type to search projects",
		hint: "%d projects: type part of a project's name."}
	el, hint := projects.single(len(f.Projects), opts, sel)
	return optionalInput(blockProjectPrefix+f.TeamID, "Project", hint, el)
}

// searchable words a select of the create modal that becomes a search box
// past Slack's 100 options.
type searchable struct {
	action string
	none   string // the static select's placeholder
	search string // the search box's placeholder
	hint   string // the search box's hint, given the number of items
}

// single is a static select of opts, or with more than 100 items (n) a
// search box that block_suggestion answers, with a hint saying how many
// there are. sel is the initial option either way.
func (s searchable) single(n int, opts []*slack.OptionBlockObject, sel *slack.OptionBlockObject) (*slack.SelectBlockElement, *slack.TextBlockObject) {
	var el *slack.SelectBlockElement
	var hint *slack.TextBlockObject
	if n > maxOptions {
		el = slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain(s.search), s.action)
		el.MinQueryLength = ptr(0)
		hint = plain(fmt.Sprintf(s.hint, n))
	} else {
		el = slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain(s.none), s.action, opts...)
	}
	el.InitialOption = sel
	return el, hint
}

// multi is single for a multi-select, sel its initial options.
func (s searchable) multi(n int, opts, sel []*slack.OptionBlockObject) (*slack.MultiSelectBlockElement, *slack.TextBlockObject) {
	var el *slack.MultiSelectBlockElement
	var hint *slack.TextBlockObject
	if n > maxOptions {
		el = slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeExternal, plain(s.search), s.action)
		el.MinQueryLength = ptr(0)
		hint = plain(fmt.Sprintf(s.hint, n))
	} else {
		el = slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain(s.none), s.action, opts...)
	}
	if len(sel) > 0 {
		el.InitialOptions = sel
	}
	return el, hint
}

// optionalInput is an optional input block of the modal.
func optionalInput(blockID, label string, hint *slack.TextBlockObject, el slack.BlockElement) *slack.InputBlock {
	b := slack.NewInputBlock(blockID, plain(label), hint, el)
	b.Optional = true
	return b
}

// matchLabels are the labels whose name contains q; all for an empty q.
func matchLabels(labels []alert.Label, q string) []alert.Label {
	return matching(labels, q, func(l alert.Label) string { return l.Name })
}

// matching are the items whose text contains q, as searchKey folds both;
// all of them for an empty q.
func matching[T any](items []T, q string, text func(T) string) []T {
	q = searchKey(q)
	if q == "" {
		return items
	}
	var out []T
	for _, it := range items {
		if strings.Contains(searchKey(text(it)), q) {
			out = append(out, it)
		}
	}
	return out
}

// matchProjects are the projects whose name contains q.
func matchProjects(projects []alert.Project, q string) []alert.Project {
	return matching(projects, q, func(p alert.Project) string { return p.Name })
}

// withRuleDefaults pre-selects the matching rule's assignee, labels and
// project when the team shown is the rule's and its details are known; a
// choice already made stays.
func (f createForm) withRuleDefaults() createForm {
	r := f.Route.Rule
	if f.TeamID == "" || f.MembersLoading {
		return f
	}
	i := slices.IndexFunc(f.Teams, func(t alert.Team) bool { return t.ID == f.TeamID })
	if i < 0 || !strings.EqualFold(f.Teams[i].Key, r.TeamKey) {
		return f
	}
	if r.Assignee != "" && f.Values.AssigneeID == "" {
		if j := slices.IndexFunc(f.Members, func(u alert.User) bool { return u.Is(r.Assignee) }); j >= 0 {
			f.Values.AssigneeID = f.Members[j].ID
		}
	}
	if len(r.Labels) > 0 && len(f.Values.LabelIDs) == 0 {
		for _, name := range r.Labels {
			if j := slices.IndexFunc(f.Labels, func(l alert.Label) bool { return strings.EqualFold(l.Name, name) }); j >= 0 {
				f.Values.LabelIDs = append(f.Values.LabelIDs, f.Labels[j].ID)
			}
		}
	}
	if r.LinearProject != "" && f.Values.ProjectID == "" {
		if j := slices.IndexFunc(f.Projects, func(p alert.Project) bool { return strings.EqualFold(p.Name, r.LinearProject) }); j >= 0 {
			f.Values.ProjectID = f.Projects[j].ID
		}
	}
	return f
}
