package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// State is a view's state.values: block_id → action_id → value.
type State map[string]map[string]StateValue

// StateValue is one element's current value in state.values.
type StateValue struct {
	// Type is the element type (plain_text_input, static_select, ...).
	Type string
	// Value is a text input's text, or the selected user, conversation,
	// channel, date or time; nil when nothing is entered.
	Value *string
	// Selected is a select menu's chosen option; nil when none.
	Selected *Option
	// Many are a multi-select menu's chosen options (multi_static_select,
	// multi_external_select), in the order chosen.
	Many []Option
}

// MarshalJSON writes the value the way Slack does in state.values, with an
// explicit null for an empty input.
func (v StateValue) MarshalJSON() ([]byte, error) {
	out := obj{"type": v.Type}
	switch key := valueKey(v.Type); key {
	case "":
	case "selected_option":
		if v.Selected == nil {
			out[key] = nil
		} else {
			out[key] = *v.Selected
		}
	case "selected_options":
		// Slack sends an empty list, not null, when nothing is chosen.
		out[key] = append([]Option{}, v.Many...)
	default:
		if v.Value == nil {
			out[key] = nil
		} else {
			out[key] = *v.Value
		}
	}
	return json.Marshal(out)
}

// valueKey is the state.values field that holds an element type's value.
func valueKey(typ string) string {
	switch typ {
	case "plain_text_input", "email_text_input", "url_text_input", "number_input":
		return "value"
	case "static_select", "external_select":
		return "selected_option"
	case "multi_static_select", "multi_external_select":
		return "selected_options"
	case "users_select":
		return "selected_user"
	case "conversations_select":
		return "selected_conversation"
	case "channels_select":
		return "selected_channel"
	case "datepicker":
		return "selected_date"
	case "timepicker":
		return "selected_time"
	}
	return ""
}

// initialKey is the element field holding the initial value for valueKey.
var initialKey = map[string]string{
	"value": "initial_value", "selected_option": "initial_option", "selected_options": "initial_options",
	"selected_user":         "initial_user",
	"selected_conversation": "initial_conversation", "selected_channel": "initial_channel",
	"selected_date": "initial_date", "selected_time": "initial_time",
}

func initialValue(e obj) StateValue {
	v := StateValue{Type: str(e, "type")}
	key := valueKey(v.Type)
	switch init := e[initialKey[key]]; {
	case key == "selected_option":
		v.Selected = optionObj(init)
	case key == "selected_options":
		list, _ := init.([]any)
		for _, o := range list {
			if opt := optionObj(o); opt != nil {
				v.Many = append(v.Many, *opt)
			}
		}
	case init != nil:
		if s, ok := init.(string); ok {
			v.Value = &s
		} else if n, ok := init.(json.Number); ok {
			s := n.String()
			v.Value = &s
		}
	}
	return v
}

// computeState builds state.values for blocks. An element whose block_id,
// action_id and type are unchanged keeps what the user entered, as Slack
// preserves input across views.update; anything else starts from its
// initial value. Buttons and overflow menus hold no state.
func computeState(blocks []any, old State) State {
	st := State{}
	walkElements(blocks, func(e elemRef) bool {
		typ := e.typ()
		if typ == "button" || typ == "overflow" || !interactive[typ] {
			return true
		}
		v := initialValue(e.elem)
		if prev, ok := old[e.blockID][e.actionID()]; ok && prev.Type == typ {
			v = prev
		}
		if st[e.blockID] == nil {
			st[e.blockID] = map[string]StateValue{}
		}
		st[e.blockID][e.actionID()] = v
		return true
	})
	return st
}

func (st State) clone() State {
	out := make(State, len(st))
	for b, m := range st {
		out[b] = make(map[string]StateValue, len(m))
		for a, v := range m {
			if v.Value != nil {
				s := *v.Value
				v.Value = &s
			}
			if v.Selected != nil {
				o := *v.Selected
				v.Selected = &o
			}
			v.Many = append([]Option(nil), v.Many...)
			out[b][a] = v
		}
	}
	return out
}

// InputValue is what a simulated user enters into an element: the text of
// a text input, the value of the option to pick in a select menu, or the id
// of the user, conversation or channel, or the date, to choose.
type InputValue struct {
	Value string
	// Values are the options to choose in a multi-select menu (Value is
	// ignored there); none clears it.
	Values []string
}

// valueFor checks v against the element the way Slack's client would and
// returns the resulting state value. Callers hold s.mu.
func (s *Server) valueFor(viewID string, e elemRef, v InputValue) (StateValue, error) {
	typ := e.typ()
	out := StateValue{Type: typ}
	switch valueKey(typ) {
	case "":
		return out, fmt.Errorf("%w: %s %q holds no value", ErrInvalidValue, typ, e.actionID())
	case "selected_option":
		opts := optionsOf(e.elem)
		if typ == "external_select" {
			opts = s.st.suggestions[viewID+"/"+e.actionID()]
			if init := optionObj(e.elem["initial_option"]); init != nil {
				opts = append(opts, *init)
			}
		}
		for _, o := range opts {
			if o.Value == v.Value {
				out.Selected = &o
				return out, nil
			}
		}
		return out, fmt.Errorf("%w: %q is not an option of %q", ErrInvalidValue, v.Value, e.actionID())
	case "selected_options":
		opts := optionsOf(e.elem)
		if typ == "multi_external_select" {
			opts = s.st.suggestions[viewID+"/"+e.actionID()]
			if list, ok := e.elem["initial_options"].([]any); ok {
				for _, o := range list {
					if opt := optionObj(o); opt != nil {
						opts = append(opts, *opt)
					}
				}
			}
		}
		if hi, ok := intField(e.elem, "max_selected_items"); ok && len(v.Values) > hi {
			return out, fmt.Errorf("%w: %d options exceed max_selected_items %d", ErrInvalidValue, len(v.Values), hi)
		}
		out.Many = []Option{}
		for _, want := range v.Values {
			i := slices.IndexFunc(opts, func(o Option) bool { return o.Value == want })
			if i < 0 {
				return out, fmt.Errorf("%w: %q is not an option of %q", ErrInvalidValue, want, e.actionID())
			}
			out.Many = append(out.Many, opts[i])
		}
		return out, nil
	case "selected_user":
		if _, ok := s.st.users[v.Value]; !ok {
			return out, fmt.Errorf("%w: user %q", ErrNotFound, v.Value)
		}
	case "value":
		n := utf8.RuneCountInString(v.Value)
		if hi, ok := intField(e.elem, "max_length"); ok && n > hi {
			return out, fmt.Errorf("%w: %d characters exceed max_length %d", ErrInvalidValue, n, hi)
		}
		if lo, ok := intField(e.elem, "min_length"); ok && n < lo {
			return out, fmt.Errorf("%w: %d characters are under min_length %d", ErrInvalidValue, n, lo)
		}
		if typ == "number_input" {
			if _, err := strconv.ParseFloat(v.Value, 64); err != nil {
				return out, fmt.Errorf("%w: %q is not a number", ErrInvalidValue, v.Value)
			}
		}
	}
	val := v.Value
	out.Value = &val
	return out, nil
}

func intField(o obj, key string) (int, bool) {
	n, ok := o[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}
