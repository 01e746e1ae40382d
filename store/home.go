package store

import (
	"context"
	"fmt"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// Reads for the Slack App Home: where alerts arrive, and what people
// filed from Slack lately. Both are small, bounded reads.

// alertChannelsSQL groups alerts by channel, latest first. MAX over
// SQLite's fixed-width RFC 3339 text orders as time does.
const alertChannelsSQL = `SELECT channel, MAX(last_seen) AS last_seen, COUNT(*) AS errors
FROM alerts
GROUP BY channel
ORDER BY MAX(last_seen) DESC, channel
LIMIT ?`

// AlertChannels returns the channels alerts were seen in, the most
// recently alerted first, at most limit (below 1 is ErrInvalid).
func (db *DB) AlertChannels(ctx context.Context, limit int) ([]alert.AlertChannel, error) {
	if limit < 1 {
		return nil, fmt.Errorf("alert channels: limit %d: %w", limit, alert.ErrInvalid)
	}
	var rows []struct {
		Channel  string  `db:"channel"`
		LastSeen anyTime `db:"last_seen"`
		Errors   int64   `db:"errors"`
	}
	if err := db.sel(ctx, nil, &rows, alertChannelsSQL, limit); err != nil {
		return nil, wrap(err, "alert channels")
	}
	out := make([]alert.AlertChannel, len(rows))
	for i, r := range rows {
		out[i] = alert.AlertChannel{Channel: r.Channel, LastSeen: r.LastSeen.t, Errors: r.Errors}
	}
	return out, nil
}

// recentLinksSQL keeps the links people made from Slack (not the REST
// API's, not those found in Linear), one per issue (several errors may
// share an issue: its newest link stands for it), newest first.
const recentLinksSQL = selectLinks + `
WHERE l.created_by NOT IN ('', ?, ?)
  AND NOT EXISTS (
	SELECT 1 FROM issue_links n
	WHERE n.issue_id = l.issue_id AND n.created_by NOT IN ('', ?, ?)
	  AND (n.created_at > l.created_at OR (n.created_at = l.created_at AND n.error_id > l.error_id)))
ORDER BY l.created_at DESC, l.error_id DESC
LIMIT ?`

// RecentLinks returns the latest links created or linked from Slack, one
// per Linear issue, newest first, at most limit (below 1 is ErrInvalid).
func (db *DB) RecentLinks(ctx context.Context, limit int) ([]alert.IssueLink, error) {
	if limit < 1 {
		return nil, fmt.Errorf("recent links: limit %d: %w", limit, alert.ErrInvalid)
	}
	var rows []linkRow
	err := db.sel(ctx, nil, &rows, recentLinksSQL,
		alert.CreatedByAPI, alert.CreatedByLinear, alert.CreatedByAPI, alert.CreatedByLinear, limit)
	if err != nil {
		return nil, wrap(err, "recent links")
	}
	return links(rows), nil
}

// anyTime scans a time from either dialect. An aggregate such as MAX loses
// SQLite's DATETIME column type, so modernc.org/sqlite hands back the
// stored text rather than a time.Time.
type anyTime struct{ t time.Time }

// Scan implements sql.Scanner.
func (a *anyTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		a.t = time.Time{}
	case time.Time:
		a.t = x.UTC()
	case string:
		return a.parse(x)
	case []byte:
		return a.parse(string(x))
	default:
		return fmt.Errorf("scan time from %T", v)
	}
	return nil
}

func (a *anyTime) parse(s string) error {
	for _, layout := range []string{sqliteTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			a.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("scan time from %q", s)
}
