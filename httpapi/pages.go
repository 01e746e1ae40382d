package httpapi

import (
	"bytes"
	"html/template"
	"net/http"
)

// page is one of the small HTML pages an admin's browser sees during the
// connect flow. They say what happened and what to do next, never why in
// technical terms: no error text, codes, tokens or states beyond the
// confirm form's own.
type page struct {
	Title string
	// Tone picks the accent: "ok", "warn" or "error".
	Tone  string
	Lines []string
	// Confirm, when set, shows the replace page's two buttons.
	Confirm *confirmForm
}

// confirmForm is the replace page's choice. State is the single-use,
// unguessable confirm state: posting it is the proof that this browser saw
// this page, so it doubles as the CSRF token.
type confirmForm struct {
	Team, State             string
	ReplaceLabel            string
	KeepLabel               string
	ConfirmPath, CancelPath string
}

// pageTemplate is the one layout. Inline CSS only: the pages' CSP allows
// nothing else, so the pages load no third-party asset and leak nothing
// (the callback URL carries the code).
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Proliferate for Linear</title>
<style>
:root { color-scheme: light; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: #f4f5f8; color: #1f2330; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { background: #fff; max-width: 30rem; width: calc(100% - 3rem); padding: 2rem 2.25rem; border-radius: 12px;
  box-shadow: 0 1px 3px rgba(20, 24, 40, .08), 0 8px 24px rgba(20, 24, 40, .06); border-top: 4px solid #5e6ad2; }
main.warn { border-top-color: #d9a21b; }
main.error { border-top-color: #d64545; }
.brand { font-size: .8rem; letter-spacing: .06em; text-transform: uppercase; color: #6b7085; margin: 0 0 .75rem; }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 .75rem; }
p { margin: .5rem 0; }
form { display: inline; }
.actions { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: 1.5rem; }
button { font: inherit; font-weight: 600; padding: .6rem 1.1rem; border-radius: 8px; border: 1px solid #c9ccd8;
  background: #fff; color: #1f2330; cursor: pointer; }
button.primary { background: #5e6ad2; border-color: #5e6ad2; color: #fff; }
button:focus-visible { outline: 3px solid #9aa2ef; outline-offset: 2px; }
</style>
</head>
<body>
<main class="{{.Tone}}">
<p class="brand">Proliferate for Linear</p>
<h1>{{.Title}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}{{with .Confirm}}<div class="actions">
<form method="post" action="{{.ConfirmPath}}">
<input type="hidden" name="team" value="{{.Team}}">
<input type="hidden" name="state" value="{{.State}}">
<button type="submit" class="primary">{{.ReplaceLabel}}</button>
</form>
<form method="post" action="{{.CancelPath}}">
<input type="hidden" name="team" value="{{.Team}}">
<input type="hidden" name="state" value="{{.State}}">
<button type="submit">{{.KeepLabel}}</button>
</form>
</div>
{{end}}</main>
</body>
</html>
`))

// pageCSP allows inline styles and posting forms to this origin, nothing
// else: no scripts, images, frames or connections. (X-Frame-Options
// forbids framing for browsers that ignore frame-ancestors.)
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

// writePage answers status with p. Pages are never cached (they answer a
// one-time link) and send no Referer onwards (the callback URL carries the
// authorization code).
func (s *server) writePage(w http.ResponseWriter, r *http.Request, status int, p page) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		// The template is fixed and its data plain strings; this is a bug.
		s.log.ErrorContext(r.Context(), "render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// The pages of the connect flow. Each says what to do next.
var (
	pageLinkExpired = page{Title: "This connect link has expired", Tone: "warn", Lines: []string{
		"This connect link has expired. Run /proliferate-linear connect in Slack for a new one.",
	}}
	pageDenied = page{Title: "Linear was not connected", Tone: "warn", Lines: []string{
		"Linear access was not granted, so nothing changed.",
		"To connect, run /proliferate-linear connect in Slack again and click Authorize in Linear.",
	}}
	pageUsed = page{Title: "This link can't be used again", Tone: "warn", Lines: []string{
		"This link was already used or has expired. Run /proliferate-linear connect in Slack for a new one.",
	}}
	pageUnreachable = page{Title: "Linear could not be reached", Tone: "error", Lines: []string{
		"Linear could not be reached; try again.",
		"Run /proliferate-linear connect in Slack for a new link. If it keeps failing, tell your Slack admin.",
	}}
	pageChanged = page{Title: "Nothing was replaced", Tone: "warn", Lines: []string{
		"Another Linear workspace was connected in the meantime, so nothing was replaced.",
		"Run /proliferate-linear status in Slack to see the connection, and connect again if you still want to switch.",
	}}
	pageNotConfigured = page{Title: "Linear connect is not set up", Tone: "error", Lines: []string{
		"Connecting Linear is not set up on this server. Ask whoever runs Proliferate for Linear to configure OAuth.",
	}}
)

// connectedPage is the success page.
func connectedPage(orgName string) page {
	return page{Title: "Connected to " + orgName, Tone: "ok", Lines: []string{
		"Connected to " + orgName + ". You can return to Slack.",
		"The bot will ask you there which Linear team new issues go to by default.",
	}}
}

// replacePage asks before one Linear workspace replaces another.
func replacePage(current, proposed, team, state string) page {
	return page{Title: "Replace " + current + " with " + proposed + "?", Tone: "warn", Lines: []string{
		"This Slack workspace is connected to " + current + ". Replace it with " + proposed + "?",
		"Issues already linked to errors stay linked. New issues will be created in " + proposed + ".",
	}, Confirm: &confirmForm{
		Team: team, State: state, ReplaceLabel: "Replace with " + proposed, KeepLabel: "Keep " + current,
		ConfirmPath: ConfirmPath, CancelPath: CancelPath,
	}}
}

// keptPage answers the replace page's Keep button.
func keptPage(current string) page {
	line := "Nothing changed: this Slack workspace stays connected to its Linear workspace. You can return to Slack."
	if current != "" {
		line = "Nothing changed: this Slack workspace stays connected to " + current + ". You can return to Slack."
	}
	return page{Title: "Nothing changed", Tone: "ok", Lines: []string{line}}
}
