package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// Routing rules, shared by every replica: the whole ordered list is
// replaced at once, in one transaction, guarded by the list's version.

var _ alert.RuleStore = (*DB)(nil)

// ruleRow is one routing_rules row.
type ruleRow struct {
	Position      int    `db:"position"`
	Project       string `db:"project"`
	Environment   string `db:"environment"`
	Level         string `db:"level"`
	ErrorType     string `db:"error_type"`
	Trigger       string `db:"trigger"`
	Channel       string `db:"channel"`
	TeamKey       string `db:"team_key"`
	Assignee      string `db:"assignee"`
	Priority      int    `db:"priority"`
	Labels        string `db:"labels"`
	LinearProject string `db:"linear_project"`
	Auto          int    `db:"auto"`
}

const ruleColumns = `position, project, environment, level, error_type, trigger, channel,
team_key, assignee, priority, labels, linear_project, auto`

// RuleSet returns the rule list in order and its version.
func (db *DB) RuleSet(ctx context.Context) (alert.RuleSet, error) {
	var set alert.RuleSet
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &set.Version, `SELECT version FROM routing_rule_version WHERE id = 1`); err != nil {
			return wrap(err, "rule version")
		}
		var rows []ruleRow
		if err := tx.SelectContext(ctx, &rows, `SELECT `+ruleColumns+` FROM routing_rules ORDER BY position`); err != nil {
			return wrap(err, "rules")
		}
		set.Rules = make([]alert.Rule, 0, len(rows))
		for _, r := range rows {
			rule, err := r.rule()
			if err != nil {
				return err
			}
			set.Rules = append(set.Rules, rule)
		}
		return nil
	})
	return set, err
}

// ReplaceRules replaces the whole list if its version is still expect (or
// expect is alert.AnyVersion); else it changes nothing and wraps
// alert.ErrConflict. The rules are checked first (alert.CheckRules): bad
// ones change nothing.
func (db *DB) ReplaceRules(ctx context.Context, rules []alert.Rule, expect int64) (alert.RuleSet, error) {
	if err := alert.CheckRules(rules); err != nil {
		return alert.RuleSet{}, fmt.Errorf("replace rules: %w", err)
	}
	var version int64
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		// Taking the row lock first makes concurrent savers queue here; a
		// later one then sees the new version and is refused.
		err := db.get(ctx, tx, &version, `UPDATE routing_rule_version SET version = version + 1
WHERE id = 1 AND (? < 0 OR version = ?) RETURNING version`, expect, expect)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("replace rules: the rules changed since version %d: %w", expect, alert.ErrConflict)
			}
			return wrap(err, "replace rules: version")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM routing_rules`); err != nil {
			return wrap(err, "replace rules: delete")
		}
		for i, r := range rules {
			row, err := toRuleRow(i+1, r)
			if err != nil {
				return err
			}
			if _, err := tx.NamedExecContext(ctx, `INSERT INTO routing_rules (`+ruleColumns+`) VALUES (:position, :project,
:environment, :level, :error_type, :trigger, :channel, :team_key, :assignee, :priority, :labels, :linear_project, :auto)`, row); err != nil {
				return wrap(err, "replace rules: insert rule %d", i+1)
			}
		}
		return nil
	})
	if err != nil {
		return alert.RuleSet{}, err
	}
	return alert.RuleSet{Version: version, Rules: rules}, nil
}

func toRuleRow(pos int, r alert.Rule) (ruleRow, error) {
	labels := r.Labels
	if labels == nil {
		labels = []string{}
	}
	lj, err := json.Marshal(labels)
	if err != nil {
		return ruleRow{}, fmt.Errorf("rule %d labels: %w", pos, err)
	}
	row := ruleRow{Position: pos, Project: r.Project, Environment: r.Environment, Level: r.Level,
		ErrorType: r.ErrorType, Trigger: string(r.Trigger), Channel: r.Channel, TeamKey: r.TeamKey,
		Assignee: r.Assignee, Priority: -1, Labels: string(lj), LinearProject: r.LinearProject}
	if r.HasPriority {
		row.Priority = int(r.Priority)
	}
	if r.Auto {
		row.Auto = 1
	}
	return row, nil
}

func (r ruleRow) rule() (alert.Rule, error) {
	out := alert.Rule{Project: r.Project, Environment: r.Environment, Level: r.Level, ErrorType: r.ErrorType,
		Trigger: alert.Trigger(r.Trigger), Channel: r.Channel, TeamKey: r.TeamKey, Assignee: r.Assignee,
		LinearProject: r.LinearProject, Auto: r.Auto != 0}
	if r.Priority >= 0 {
		out.HasPriority, out.Priority = true, alert.Priority(r.Priority)
	}
	if err := json.Unmarshal([]byte(r.Labels), &out.Labels); err != nil {
		return alert.Rule{}, fmt.Errorf("rule %d labels: %w", r.Position, err)
	}
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	return out, nil
}
