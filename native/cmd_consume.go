package main

import (
	"fmt"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "consume", summary: "read committed messages of a topic from one broker", run: runConsume})
}

func runConsume(args []string) error {
	fs := newFlags("consume", "--topic T [--addr host:port] [--offset O] [--max M] [--json]", `
Reads committed messages from the topic's ConsumeQueue on the broker at --addr
(any broker, leader or follower: they all hold the same committed messages).`)
	cf := addClientFlags(fs, false)
	topic := fs.String("topic", "", "topic name")
	offset := fs.Uint64("offset", 0, "first queue offset to read")
	max := fs.Int("max", 32, fmt.Sprintf("most messages to read (1..%d)", server.MaxConsume))
	asJSON := fs.Bool("json", false, "print the raw JSON answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	if *max < 1 || *max > server.MaxConsume {
		return usagef("--max %d must be in 1..%d", *max, server.MaxConsume)
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	r, err := c.Consume(ctx, c.Addrs[0], *topic, *offset, *max)
	if err != nil {
		return err
	}
	if *asJSON {
		printJSON(r)
		return nil
	}
	for _, m := range r.Messages {
		fmt.Printf("%s@%d entry %d term %d pos %d: %s\n", r.Topic, m.QueueOffset, m.Index, m.Term, m.Pos, m.Body)
	}
	fmt.Printf("next offset %d\n", r.NextOffset)
	return nil
}
