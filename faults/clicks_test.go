package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// TestClicksWhileCreatesWait: 16 creates are in flight on a Linear that
// takes 2 s a request when 200 people click Create Linear Issue at once.
// Promise: every click's modal opens within Slack's 3 s (a trigger_id
// expires after that), none is dropped, every envelope is acked.
func TestClicksWhileCreatesWait(t *testing.T) {
	const (
		creates       = 16
		clicks        = 200
		clickAlerts   = 20
		linearLatency = 2 * time.Second
	)
	forEachStore(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL, creates+clickAlerts)
		r := w.start("replica", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()

		// 16 modals filled in while Linear is quick.
		var forms []fakeslack.View
		var formUsers []string
		for i := range creates {
			user := fmt.Sprintf("U1%04d", i)
			w.Slack.AddUser(fakeslack.User{ID: user, Name: fmt.Sprintf("creator%d", i)})
			msg := w.postOne(ctx, t, r, fmt.Sprintf("create-%d", i), w.channels[i])
			v := w.openCreate(ctx, t, user, msg)
			w.pickTeam(ctx, t, user, v)
			forms, formUsers = append(forms, v), append(formUsers, user)
		}
		var targets []fakeslack.Message
		for i := range clickAlerts {
			targets = append(targets, w.postOne(ctx, t, r, fmt.Sprintf("click-%d", i), w.channels[creates+i]))
		}
		for i := range clicks {
			w.Slack.AddUser(fakeslack.User{ID: fmt.Sprintf("U2%04d", i), Name: fmt.Sprintf("clicker%d", i)})
		}

		// Linear slows down; the 16 creates go in, then the 200 clicks.
		w.Linear.SetLatency(linearLatency)
		var wg sync.WaitGroup
		for i, v := range forms {
			wg.Go(func() {
				if _, err := w.Slack.SubmitView(ctx, formUsers[i], v.ID); err != nil {
					t.Errorf("submit %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		opensBefore := len(w.Slack.TriggerLatencies())
		clickErrs := make([]error, clicks)
		// A click not even delivered within 10 s counts as failed.
		clickCtx, clickCancel := context.WithTimeout(ctx, 10*time.Second)
		for i := range clicks {
			wg.Go(func() {
				m := targets[i%len(targets)]
				_, clickErrs[i] = w.Slack.ClickButton(clickCtx, fmt.Sprintf("U2%04d", i), m.Channel, m.TS, actionCreate)
			})
		}
		wg.Wait()
		clickCancel()

		// Each clicker's modal is open, or views.open came too late (the
		// fake refuses an expired trigger_id, as Slack does) or never.
		// Wait for every views.open to arrive (TriggerLatencies is a cheap
		// copy; listing views is not), then count the modals once.
		waitFor(10*time.Second, func() bool { return len(w.Slack.TriggerLatencies())-opensBefore >= clicks })
		opened := w.openModals("U2")
		lat := slices.Clone(w.Slack.TriggerLatencies()[opensBefore:])
		slices.Sort(lat)
		late, failedClicks := 0, 0
		for _, l := range lat {
			if l > 3*time.Second {
				late++
			}
		}
		for _, err := range clickErrs {
			if err != nil {
				failedClicks++
			}
		}
		var p50, p99, worst time.Duration
		if len(lat) > 0 {
			p50, p99, worst = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
		}
		t.Logf("%d clicks at once while %d creates wait on a %s Linear: %d modals opened, %d views.open calls (%d past 3 s), click → views.open p50 %s p99 %s max %s; %d clicks not acked",
			clicks, creates, secs(linearLatency), opened, len(lat), late, ms(p50), ms(p99), ms(worst), failedClicks)
		if opened != clicks {
			t.Errorf("%d of %d clicks opened no modal", clicks-opened, clicks)
		}
		if late > 0 {
			t.Errorf("%d views.open calls came after Slack's 3 s", late)
		}
		if failedClicks > 0 {
			t.Errorf("%d clicks failed (not acked in time)", failedClicks)
		}
	})
}

// openModals counts the users whose id starts with prefix and who have a
// create modal open. One Views call per count: the fake copies every view
// under its lock, and polling it per user would starve the bot's calls.
func (w *world) openModals(prefix string) int {
	users := map[string]bool{}
	for _, v := range w.Slack.Views() {
		if v.CallbackID == callbackCreate && v.Open && strings.HasPrefix(v.User, prefix) {
			users[v.User] = true
		}
	}
	return len(users)
}
