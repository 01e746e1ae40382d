package bot

// routeMessage decides the work for a message event. Proliferate's alert
// messages are recognised in the next step; until then every message is
// acked and ignored.
func (b *Bot) routeMessage(cb eventCallback, retryAttempt int) job {
	_, _ = cb, retryAttempt
	return nil
}
