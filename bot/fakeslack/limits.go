package fakeslack

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits the fake enforces, from Slack's reference pages
// (https://api.slack.com/reference/block-kit/blocks,
// .../block-elements, .../composition-objects, .../surfaces/views).
const (
	maxMessageBlocks   = 50
	maxViewBlocks      = 100
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxHeaderText      = 150
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxOptionText      = 75
	maxOptionValue     = 150
	maxOptions         = 100
	maxOverflowOptions = 5
	maxPlaceholder     = 150
	maxActionsElements = 25
	maxContextElements = 10
	maxLabel           = 2000
	maxID              = 255
	maxURL             = 3000
	maxInputLength     = 3000
	maxMarkdownText    = 12000
	maxViewTitle       = 24 // title, submit and close
	maxPrivateMetadata = 3000
	// maxMessageBlockText is the cumulative text of one message's blocks
	// past which chat.postMessage and chat.update answer
	// msg_blocks_too_long, although every block is within its own limits.
	// Slack does not document the figure; about 12,000 characters is what
	// it was seen to enforce.
	maxMessageBlockText = 12000
)

// BlockText is the cumulative text of blocks, as Slack counts it against
// maxMessageBlockText: the characters of every "text" string (text objects,
// fields, markdown blocks, button and option labels) and of every
// rich_text element's text, at any depth. blocks is decoded JSON.
func BlockText(blocks any) int {
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				walk(e)
			}
		case obj:
			for k, e := range t {
				if s, ok := e.(string); ok && k == "text" {
					n += utf8.RuneCountInString(s)
					continue
				}
				walk(e)
			}
		}
	}
	walk(blocks)
	return n
}

// checker collects problems in Slack's response_metadata.messages form:
// "[ERROR] <what> [json-pointer:<where>]".
type checker struct{ problems []string }

func (c *checker) add(ptr, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("[ERROR] %s [json-pointer:%s]", fmt.Sprintf(format, args...), ptr))
}

func (c *checker) maxLen(ptr, s string, n int) {
	if utf8.RuneCountInString(s) > n {
		c.add(ptr, "must be less than %d characters", n+1)
	}
}

// text checks a text object: present, non-empty, of an allowed type, within n.
func (c *checker) text(ptr string, v any, n int, plainOnly bool) {
	o, ok := v.(obj)
	if !ok {
		c.add(ptr, "must be a text object")
		return
	}
	switch t := str(o, "type"); {
	case t == "plain_text", t == "mrkdwn" && !plainOnly:
	default:
		c.add(ptr+"/type", "must be one of the allowed text types")
	}
	if str(o, "text") == "" {
		c.add(ptr+"/text", "must be more than 0 characters")
	}
	c.maxLen(ptr+"/text", str(o, "text"), n)
}

func (c *checker) optionalText(ptr string, o obj, key string, n int, plainOnly bool) {
	if v, ok := o[key]; ok && v != nil {
		c.text(ptr+"/"+key, v, n, plainOnly)
	}
}

func count(v any) int {
	a, _ := v.([]any)
	return len(a)
}

// validateBlocks returns the problems Slack would report for blocks,
// rooted at ptr ("/blocks" or "/view/blocks"); none means valid.
func validateBlocks(blocks []any, maxBlocks int, ptr string) []string {
	c := &checker{}
	if len(blocks) > maxBlocks {
		c.add(ptr, "no more than %d items allowed", maxBlocks)
	}
	seen := map[string]bool{}
	for i, b := range blocks {
		p := fmt.Sprintf("%s/%d", ptr, i)
		blk, ok := b.(obj)
		if !ok {
			c.add(p, "must be an object")
			continue
		}
		if id := str(blk, "block_id"); id != "" {
			c.maxLen(p+"/block_id", id, maxID)
			if seen[id] {
				c.add(p+"/block_id", "duplicate block_id %q", id)
			}
			seen[id] = true
		}
		c.block(p, blk)
	}
	return c.problems
}

func (c *checker) block(p string, blk obj) {
	switch typ := str(blk, "type"); typ {
	case "section":
		_, hasText := blk["text"]
		if !hasText && blk["fields"] == nil {
			c.add(p, "must contain text or fields")
		}
		c.optionalText(p, blk, "text", maxSectionText, false)
		fields, _ := blk["fields"].([]any)
		if len(fields) > maxSectionFields {
			c.add(p+"/fields", "no more than %d items allowed", maxSectionFields)
		}
		for i, f := range fields {
			c.text(fmt.Sprintf("%s/fields/%d", p, i), f, maxFieldText, false)
		}
		if a, ok := blk["accessory"].(obj); ok {
			c.element(p+"/accessory", a)
		}
	case "header":
		c.text(p+"/text", blk["text"], maxHeaderText, true)
	case "actions":
		elems, _ := blk["elements"].([]any)
		if len(elems) == 0 || len(elems) > maxActionsElements {
			c.add(p+"/elements", "must contain between 1 and %d items", maxActionsElements)
		}
		for i, e := range elems {
			if eo, ok := e.(obj); ok {
				c.element(fmt.Sprintf("%s/elements/%d", p, i), eo)
			}
		}
	case "context":
		if n := count(blk["elements"]); n == 0 || n > maxContextElements {
			c.add(p+"/elements", "must contain between 1 and %d items", maxContextElements)
		}
	case "input":
		c.text(p+"/label", blk["label"], maxLabel, true)
		c.optionalText(p, blk, "hint", maxLabel, true)
		if e, ok := blk["element"].(obj); ok {
			c.element(p+"/element", e)
		} else {
			c.add(p+"/element", "is required")
		}
	case "image":
		c.maxLen(p+"/image_url", str(blk, "image_url"), maxURL)
		if str(blk, "alt_text") == "" {
			c.add(p+"/alt_text", "must be more than 0 characters")
		}
	case "markdown":
		c.maxLen(p+"/text", str(blk, "text"), maxMarkdownText)
	case "divider", "rich_text", "file", "video", "table", "context_actions":
	default:
		c.add(p+"/type", "unsupported type %q", typ)
	}
}

func (c *checker) element(p string, e obj) {
	c.maxLen(p+"/action_id", str(e, "action_id"), maxID)
	c.optionalText(p, e, "placeholder", maxPlaceholder, true)
	switch typ := str(e, "type"); typ {
	case "button":
		c.text(p+"/text", e["text"], maxButtonText, true)
		c.maxLen(p+"/value", str(e, "value"), maxButtonValue)
		c.maxLen(p+"/url", str(e, "url"), maxURL)
	case "static_select", "multi_static_select":
		c.options(p, e, maxOptions, true)
	case "overflow":
		c.options(p, e, maxOverflowOptions, false)
	case "plain_text_input":
		if n, ok := intField(e, "max_length"); ok && n > maxInputLength {
			c.add(p+"/max_length", "must be at most %d", maxInputLength)
		}
		c.maxLen(p+"/initial_value", str(e, "initial_value"), maxInputLength)
	}
}

// options checks a select's options or option_groups: between 1 and max,
// each option's text and value within Slack's limits.
func (c *checker) options(p string, e obj, max int, groups bool) {
	check := func(gp string, list any) {
		arr, _ := list.([]any)
		if len(arr) == 0 || len(arr) > max {
			c.add(gp, "must contain between 1 and %d items", max)
		}
		for i, o := range arr {
			op := fmt.Sprintf("%s/%d", gp, i)
			oo, _ := o.(obj)
			c.text(op+"/text", oo["text"], maxOptionText, false)
			c.maxLen(op+"/value", str(oo, "value"), maxOptionValue)
		}
	}
	if g, ok := e["option_groups"].([]any); ok && groups {
		if len(g) > max {
			c.add(p+"/option_groups", "no more than %d items allowed", max)
		}
		for i, grp := range g {
			go_, _ := grp.(obj)
			check(fmt.Sprintf("%s/option_groups/%d/options", p, i), go_["options"])
		}
		return
	}
	check(p+"/options", e["options"])
}

// viewReq is the "view" argument of views.open/update/publish.
type viewReq struct {
	Type            string          `json:"type"`
	Title           json.RawMessage `json:"title"`
	Submit          json.RawMessage `json:"submit"`
	Close           json.RawMessage `json:"close"`
	Blocks          json.RawMessage `json:"blocks"`
	PrivateMetadata string          `json:"private_metadata"`
	CallbackID      string          `json:"callback_id"`
	ExternalID      string          `json:"external_id"`
	ClearOnClose    bool            `json:"clear_on_close"`
	NotifyOnClose   bool            `json:"notify_on_close"`
	blocks          []any
}

// parseView decodes and validates a view; the problems use pointers under
// ptr ("/view"), as Slack reports them.
func parseView(raw json.RawMessage, ptr string) (*viewReq, []string) {
	c := &checker{}
	var v viewReq
	if err := json.Unmarshal(raw, &v); err != nil || len(raw) == 0 {
		c.add(ptr, "must be a view object")
		return nil, c.problems
	}
	blocks, err := decodeBlocks(v.Blocks)
	if err != nil {
		c.add(ptr+"/blocks", "must be an array")
		return nil, c.problems
	}
	v.blocks = blocks
	c.problems = append(c.problems, validateBlocks(blocks, maxViewBlocks, ptr+"/blocks")...)
	switch v.Type {
	case "modal":
		var title any
		_ = json.Unmarshal(v.Title, &title)
		c.text(ptr+"/title", title, maxViewTitle, true)
		for _, f := range []struct {
			key string
			raw json.RawMessage
		}{{"submit", v.Submit}, {"close", v.Close}} {
			var t any
			if json.Unmarshal(f.raw, &t) == nil && t != nil {
				c.text(ptr+"/"+f.key, t, maxViewTitle, true)
			}
		}
		if len(v.Submit) == 0 || string(v.Submit) == "null" {
			for _, b := range blocks {
				if bo, _ := b.(obj); str(bo, "type") == "input" {
					c.add(ptr+"/submit", "is required when the view contains input blocks")
					break
				}
			}
		}
	case "home":
	default:
		c.add(ptr+"/type", "must be modal or home")
	}
	c.maxLen(ptr+"/private_metadata", v.PrivateMetadata, maxPrivateMetadata)
	c.maxLen(ptr+"/callback_id", v.CallbackID, maxID)
	c.maxLen(ptr+"/external_id", v.ExternalID, maxID)
	return &v, c.problems
}
