package httpapi

import (
	"bytes"
	"unicode/utf8"
)

// scanPayload decodes body into p exactly as json.Unmarshal would, for the
// bodies Proliferate sends: one object of the known fields, each at most
// once and spelled as tagged, with strings and integers (an exception
// object alike), and unknown fields of any JSON value. It reports false
// for anything else, p then being garbage: a key that only matches a
// field case-insensitively, a repeated field, null, a fraction, an escape
// for a surrogate pair, invalid UTF-8, or anything invalid. decodePayload
// then asks encoding/json, which also names what is wrong. It does with
// the alert webhook's bodies in one pass and a few string copies what
// encoding/json's two passes and reflection take several times as long
// to do.
func scanPayload(body []byte, p *alertPayload) bool {
	// One copy of the body as a string: the fields without escapes are
	// parts of it, one allocation instead of one each.
	s := scanner{b: body, text: string(body)}
	var seen uint32
	done := s.object(func(key []byte) bool {
		var bit uint32
		var ok bool
		switch string(key) {
		case "issue_id":
			bit = 1 << 0
			p.IssueID, ok = s.str()
		case "url":
			bit = 1 << 1
			p.URL, ok = s.str()
		case "project":
			bit = 1 << 2
			p.Project, ok = s.str()
		case "level":
			bit = 1 << 3
			p.Level, ok = s.str()
		case "exception":
			bit = 1 << 4
			p.Exception = new(exceptionPayload)
			ok = scanException(&s, p.Exception)
		case "message":
			bit = 1 << 5
			p.Message, ok = s.str()
		case "environment":
			bit = 1 << 6
			p.Environment, ok = s.str()
		case "release":
			bit = 1 << 7
			p.Release, ok = s.str()
		case "first_seen":
			bit = 1 << 8
			p.FirstSeen, ok = s.str()
		case "last_seen":
			bit = 1 << 9
			p.LastSeen, ok = s.str()
		case "event_count":
			bit = 1 << 10
			p.EventCount, ok = s.int64()
		case "users_affected":
			bit = 1 << 11
			p.UsersAffected, ok = s.int64()
		case "trigger":
			bit = 1 << 12
			p.Trigger, ok = s.str()
		case "channel":
			bit = 1 << 13
			p.Channel, ok = s.str()
		default:
			// encoding/json matches keys case-insensitively too.
			return !foldsToAny(key, payloadKeys) && s.skip(0)
		}
		if seen&bit != 0 {
			return false // a repeated field: encoding/json's merging is its own.
		}
		seen |= bit
		return ok
	})
	s.ws()
	return done && s.i == len(s.b)
}

// payloadKeys and exceptionKeys are the JSON names of alertPayload's and
// exceptionPayload's fields.
var (
	payloadKeys = []string{"issue_id", "url", "project", "level", "exception", "message", "environment",
		"release", "first_seen", "last_seen", "event_count", "users_affected", "trigger", "channel"}
	exceptionKeys = []string{"type", "message", "stack"}
)

func scanException(s *scanner, e *exceptionPayload) bool {
	var seen uint32
	return s.object(func(key []byte) bool {
		var bit uint32
		var ok bool
		switch string(key) {
		case "type":
			bit = 1 << 0
			e.Type, ok = s.str()
		case "message":
			bit = 1 << 1
			e.Message, ok = s.str()
		case "stack":
			bit = 1 << 2
			e.Stack, ok = s.str()
		default:
			return !foldsToAny(key, exceptionKeys) && s.skip(1)
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
}

// foldsToAny reports whether key equals one of names ignoring case, as
// encoding/json matches a key it has no exact field for. Keys are ASCII
// here (scanner.key refuses others).
func foldsToAny(key []byte, names []string) bool {
	for _, n := range names {
		if len(n) == len(key) && bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// maxSkipDepth bounds the nesting of an unknown field's value the scanner
// skips; deeper ones go to encoding/json.
const maxSkipDepth = 32

// scanner reads JSON from b at i. Each method reports false where the
// input is not what it accepts, valid JSON or not.
type scanner struct {
	b    []byte
	text string // b as a string: str returns parts of it.
	i    int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads an object whose keys are ASCII without escapes; field is
// called at each key with the value next and must consume it.
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.key()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// key reads a string of printable ASCII without escapes.
func (s *scanner) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// str reads a string value as encoding/json decodes it.
func (s *scanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false // null, or not a string.
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return "", false // encoding/json replaces the bad bytes.
			}
			return s.text[start : s.i-1], true
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// escaped finishes a string with escapes, from start (after its quote);
// s.i is at its first backslash.
func (s *scanner) escaped(start int) (string, bool) {
	buf := make([]byte, 0, s.i-start+64)
	buf = append(buf, s.b[start:s.i]...)
	for s.i < len(s.b) {
		// Copy up to the next quote, backslash or control at once.
		run := s.i
		for run < len(s.b) && s.b[run] != '"' && s.b[run] != '\\' && s.b[run] >= 0x20 {
			run++
		}
		buf = append(buf, s.b[s.i:run]...)
		s.i = run
		if s.i == len(s.b) {
			return "", false
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		}
		if s.i+1 >= len(s.b) {
			return "", false
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok || utf8.RuneLen(r) < 0 || (r >= 0xD800 && r < 0xE000) {
				return "", false // surrogates: encoding/json pairs them.
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", false
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// int64 reads an integer of at most 18 digits (so it fits): no fraction,
// no exponent, no leading zero.
func (s *scanner) int64() (int64, bool) {
	neg := s.eat('-')
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	digits := s.b[start:s.i]
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	var n int64
	for _, d := range digits {
		n = n*10 + int64(d-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// skip reads any JSON value (an unknown field's) without keeping it.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		return s.skipString()
	case '{':
		s.i++
		s.ws()
		if s.eat('}') {
			return true
		}
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' || !s.skipString() {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.skipNumber()
}

func (s *scanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// skipString reads a string, checking its escapes; bytes the scanner of
// encoding/json accepts in a string it accepts too (any but controls).
func (s *scanner) skipString() bool {
	s.i++ // the quote.
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			s.i += 2
			switch s.b[s.i-1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := s.hex4(); !ok {
					return false
				}
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// skipNumber reads a JSON number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *scanner) skipNumber() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.digits() == 0:
		return false
	}
	if s.eat('.') && s.digits() == 0 {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits consumes decimal digits and says how many.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
