package main

import (
	"crypto/rand"
	"encoding/hex"
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
leader, following NOT_LEADER answers. Each message carries a producer id
(--producer, or one made up for this run: cli-…) and a sequence number from
--seq on, so a send whose outcome was unknown (TIMEOUT, leader change, a
broker that did not answer in time) is retried, at the next broker if need
be, with the same sequence: it is stored once.`)
	cf := addClientFlags(fs, false)
	topic := fs.String("topic", "", "topic name ([%|a-zA-Z0-9_-], at most 127 characters)")
	tags := fs.String("tags", "", "message tags")
	keys := fs.String("keys", "", "message keys (space-separated)")
	producer := fs.String("producer", "", "producer id for deduplicated retries (default: cli-<random>, new each run)")
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
	if *seq == 0 {
		return usagef("--seq must be at least 1")
	}
	if *producer == "" {
		var b [6]byte
		rand.Read(b[:])
		*producer = "cli-" + hex.EncodeToString(b[:])
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	for i, b := range bodies {
		req := server.ProduceRequest{Body: b, Tags: *tags, Keys: *keys, Producer: *producer, Seq: *seq + uint64(i)}
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
