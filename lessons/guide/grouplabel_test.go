package guide

import "testing"

// The group checks' labels, in both languages.
func TestGroupCheckLabels(t *testing.T) {
	for line, want := range map[string]Text{
		"group billing delivered 3":     {"group billing got 3 messages", "消费组 billing 收到 3 条消息"},
		"group billing delivered > 2":   {"group billing got more than 2 messages", "消费组 billing 收到超过 2 条消息"},
		"group billing redelivered 3":   {"group billing got 3 messages again", "消费组 billing 重复收到 3 条消息"},
		"group billing redelivered > 0": {"group billing got more than 0 messages again", "消费组 billing 重复收到超过 0 条消息"},
	} {
		c, err := ParseCheck(line, 3)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := c.Label(); got != want {
			t.Errorf("%s: label %+v, want %+v", line, got, want)
		}
	}
}
