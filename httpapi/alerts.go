package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/crashpoint"
)

// acceptedResponse is the 202 body: the alert is stored and its Slack
// message queued.
type acceptedResponse struct {
	Status      string `json:"status"`
	AlertID     int64  `json:"alert_id"`
	Occurrences int64  `json:"occurrences"`
}

// retryAfterSeconds is the Retry-After sent with a 503: long enough for a
// database blip to pass, short enough not to delay the alert much.
const retryAfterSeconds = "10"

// postAlert handles POST /api/v1/alerts. Checks run cheapest first:
// timestamp (no body read), body size, signature, JSON, fields. The alert
// is stored before 202 is sent, so an accepted alert is never lost; if it
// cannot be stored the answer is 503 and Proliferate retries.
func (s *server) postAlert(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if len(s.secret) == 0 || s.alerts == nil {
		s.log.ErrorContext(ctx, "alert refused", "err", errNoSecret)
		writeError(w, http.StatusServiceUnavailable, "alert intake is not configured on this server")
		return
	}
	ts, err := checkTimestamp(r.Header.Get(TimestampHeader), s.now())
	if err != nil {
		s.unauthorized(w, r, err)
		return
	}
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body: larger than 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "body: could not be read")
		return
	}
	if err := checkSignature(s.macs, r.Header.Get(SignatureHeader), ts, body); err != nil {
		s.unauthorized(w, r, err)
		return
	}

	p, err := decodePayload(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, errorText(err))
		return
	}
	// An alert that names no channel goes where the routing rules say
	// (channel=), else to the default channel: the core decides.
	routed, canRoute := s.alerts.(RoutedAccepter)
	routeIt := canRoute && strings.TrimSpace(p.Channel) == ""
	var a alert.Alert
	if routeIt {
		a, err = p.toRoutableAlert()
	} else {
		a, err = p.toAlert(s.defaultChannel)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, errorText(err))
		return
	}

	var stored alert.Alert
	if routeIt {
		stored, err = routed.AcceptRouted(ctx, a, s.defaultChannel)
	} else {
		stored, err = s.alerts.Accept(ctx, a)
	}
	if err != nil {
		if errors.Is(err, alert.ErrInvalid) {
			// The core names what is wrong in the wrapping message.
			writeError(w, http.StatusBadRequest, errorText(err))
			return
		}
		s.log.ErrorContext(ctx, "store alert", "error_id", a.ErrorID, "channel", a.Channel, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeError(w, http.StatusServiceUnavailable, "the alert could not be stored; retry later")
		return
	}
	logAccepted(w, stored)
	if s.onAlertStored != nil {
		s.onAlertStored(stored)
	}
	crashpoint.Hit(crashpoint.AlertStored) // fault tests: stored, 202 not yet sent.
	writeAccepted(w, stored)
}

// writeAccepted answers 202 with the acceptedResponse of a: what
// writeJSON writes, without reflection.
func writeAccepted(w http.ResponseWriter, a alert.Alert) {
	setJSONHeaders(w.Header())
	w.WriteHeader(http.StatusAccepted)
	var buf [80]byte
	b := append(buf[:0], `{"status":"accepted","alert_id":`...)
	b = strconv.AppendInt(b, a.ID, 10)
	b = append(b, `,"occurrences":`...)
	b = strconv.AppendInt(b, a.Occurrences, 10)
	_, _ = w.Write(append(b, "}\n"...)) // the client may be gone; nothing to do.
}

// readBody reads r's body, at most limit bytes (a *http.MaxBytesError
// past it). A declared length sizes the buffer at once rather than
// growing it from 512 bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	n := r.ContentLength
	if n <= 0 || n > limit {
		return io.ReadAll(body)
	}
	// One byte more than declared, so the end is read without growing.
	buf := make([]byte, 0, n+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// logAccepted puts on the request's log line what it says of the alert it
// stored: one line per alert, which the core logs at Debug only.
func logAccepted(w http.ResponseWriter, a alert.Alert) {
	logAttrs(w, slog.Int64("alert_id", a.ID), slog.String("error_id", a.ErrorID),
		slog.String("channel", a.Channel), slog.Int64("occurrences", a.Occurrences))
}

// unauthorized answers 401 with the reason (which header, what is wrong;
// never the expected signature) and logs it without any header value.
func (s *server) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	s.log.WarnContext(r.Context(), "alert not authenticated", "reason", err.Error(), "remote", r.RemoteAddr)
	writeError(w, http.StatusUnauthorized, err.Error())
}
