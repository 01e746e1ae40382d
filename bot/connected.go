package bot

// Connected reports whether a Socket Mode connection is up right now: one
// that Slack greeted with hello and that has not ended (a connection being
// drained after Slack's disconnect still counts until it closes). The
// readiness probe reads it, so a replica that cannot receive clicks is
// taken out of rotation.
func (b *Bot) Connected() bool { return b.socket.up.Load() > 0 }

// SocketConnections is how many Socket Mode connections Slack has greeted
// since Run started: 1 plus the reconnects.
func (b *Bot) SocketConnections() int64 { return b.socket.hellos.Load() }
