package fakeslack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Blocks are handled as generic JSON (maps and slices) rather than
// slack-go's types, so the fake checks what the app actually sent, not what
// a library chose to model.
type obj = map[string]any

// decodeBlocks parses a JSON array of blocks, keeping numbers exact.
func decodeBlocks(raw json.RawMessage) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode blocks: %w", err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("blocks: not an array")
	}
	return arr, nil
}

func str(o obj, key string) string {
	s, _ := o[key].(string)
	return s
}

// textOf returns the text of a text object ({"type":"plain_text","text":...}).
func textOf(v any) string {
	o, _ := v.(obj)
	return str(o, "text")
}

// elemRef is an interactive element and the block holding it.
type elemRef struct {
	block     obj
	blockID   string
	blockType string
	elem      obj
}

func (e elemRef) actionID() string { return str(e.elem, "action_id") }
func (e elemRef) typ() string      { return str(e.elem, "type") }

// walkElements calls fn for each element that can carry an action_id: a
// section's accessory, an actions block's elements, an input's element.
// It stops when fn returns false.
func walkElements(blocks []any, fn func(elemRef) bool) {
	for _, b := range blocks {
		blk, ok := b.(obj)
		if !ok {
			continue
		}
		ref := elemRef{block: blk, blockID: str(blk, "block_id"), blockType: str(blk, "type")}
		var elems []any
		switch ref.blockType {
		case "section":
			if a, ok := blk["accessory"]; ok {
				elems = []any{a}
			}
		case "input":
			if a, ok := blk["element"]; ok {
				elems = []any{a}
			}
		case "actions":
			elems, _ = blk["elements"].([]any)
		}
		for _, e := range elems {
			eo, ok := e.(obj)
			if !ok {
				continue
			}
			ref.elem = eo
			if !fn(ref) {
				return
			}
		}
	}
}

// findElement returns the element with actionID.
func findElement(blocks []any, actionID string) (elemRef, bool) {
	var found elemRef
	ok := false
	walkElements(blocks, func(e elemRef) bool {
		if e.actionID() == actionID {
			found, ok = e, true
			return false
		}
		return true
	})
	return found, ok
}

// interactive lists element types that Slack assigns an action_id to.
var interactive = map[string]bool{
	"button": true, "static_select": true, "external_select": true, "users_select": true,
	"conversations_select": true, "channels_select": true, "overflow": true, "datepicker": true,
	"timepicker": true, "checkboxes": true, "radio_buttons": true, "plain_text_input": true,
	"email_text_input": true, "url_text_input": true, "number_input": true,
	"multi_static_select": true, "multi_external_select": true, "multi_users_select": true,
	"multi_conversations_select": true, "multi_channels_select": true,
}

// normalizeBlocks gives every block a block_id and every interactive
// element an action_id, as Slack does when storing a message or view: the
// app later sees these ids in payloads and in state.values. Callers hold s.mu.
func (c *idClock) normalizeBlocks(blocks []any) {
	for _, b := range blocks {
		if blk, ok := b.(obj); ok && str(blk, "block_id") == "" {
			blk["block_id"] = c.next("blk")
		}
	}
	walkElements(blocks, func(e elemRef) bool {
		if interactive[e.typ()] && e.actionID() == "" {
			e.elem["action_id"] = c.next("act")
		}
		return true
	})
}

// Option is a select option: its display text and its value.
type Option struct {
	Text  string
	Value string
}

// MarshalJSON writes the option as a Block Kit option object.
func (o Option) MarshalJSON() ([]byte, error) {
	return json.Marshal(obj{"text": obj{"type": "plain_text", "text": o.Text, "emoji": true}, "value": o.Value})
}

// UnmarshalJSON reads a Block Kit option object.
func (o *Option) UnmarshalJSON(b []byte) error {
	var w struct {
		Text  struct{ Text string } `json:"text"`
		Value string                `json:"value"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	o.Text, o.Value = w.Text.Text, w.Value
	return nil
}

// optionsOf returns a select's options, flattening option_groups.
func optionsOf(e obj) []Option {
	var out []Option
	add := func(list any) {
		arr, _ := list.([]any)
		for _, a := range arr {
			if ao, ok := a.(obj); ok {
				out = append(out, Option{Text: textOf(ao["text"]), Value: str(ao, "value")})
			}
		}
	}
	add(e["options"])
	groups, _ := e["option_groups"].([]any)
	for _, g := range groups {
		if go_, ok := g.(obj); ok {
			add(go_["options"])
		}
	}
	return out
}

func optionObj(v any) *Option {
	o, ok := v.(obj)
	if !ok {
		return nil
	}
	return &Option{Text: textOf(o["text"]), Value: str(o, "value")}
}
