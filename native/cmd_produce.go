package main

import (
	"fmt"
	"strings"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "produce", summary: "send messages to a topic (answers after commit)", run: runProduce})
}

func runProduce(args []string) error {
	fs := newFlags("produce", "--topic T [--addr host:port] [flags] [body…]", `
Sends one message per body argument (or --count messages "<body>-<n>") to the
leader, following NOT_LEADER answers. With --producer each message carries a
sequence number from --seq on, and a send whose outcome was unknown (TIMEOUT,
leader change) is retried with the same sequence: it is stored once.`)
	cf := addClientFlags(fs, false)
	topic := fs.String("topic", "", "topic name ([%|a-zA-Z0-9_-], at most 127 characters)")
	tags := fs.String("tags", "", "message tags")
	keys := fs.String("keys", "", "message keys (space-separated)")
	producer := fs.String("producer", "", "producer id for deduplicated retries (empty: anonymous)")
	seq := fs.Uint64("seq", 1, "sequence number of the first message (with --producer)")
	count := fs.Int("count", 0, "send this many messages \"<body>-1\", \"<body>-2\", … (body from --body)")
	bodyFlag := fs.String("body", "hello", "body used with --count")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	bodies := fs.Args()
	switch {
	case *count < 0:
		return usagef("--count %d must not be negative", *count)
	case *count > 0 && len(bodies) > 0:
		return usagef("give bodies as arguments or --count, not both")
	case *count > 0:
		for i := 1; i <= *count; i++ {
			bodies = append(bodies, fmt.Sprintf("%s-%d", *bodyFlag, i))
		}
	case len(bodies) == 0:
		bodies = []string{*bodyFlag}
	}
	if *producer != "" && *seq == 0 {
		return usagef("--seq must be at least 1 with --producer")
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	for i, b := range bodies {
		req := server.ProduceRequest{Body: b, Tags: *tags, Keys: *keys, Producer: *producer}
		if *producer != "" {
			req.Seq = *seq + uint64(i)
		}
		r, err := c.Produce(ctx, *topic, req)
		if err != nil {
			return fmt.Errorf("message %d (%q): %w", i+1, trim(b), err)
		}
		dup := ""
		if r.Duplicate {
			dup = " (duplicate of an earlier send)"
		}
		fmt.Printf("stored %s@%d entry %d term %d via %s%s\n", r.Topic, r.QueueOffset, r.Index, r.Term, c.Leader(), dup)
	}
	return nil
}

func trim(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}
