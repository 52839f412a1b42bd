package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"dledgerlab/core/broker"
	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

func init() {
	register(command{name: "consume", summary: "read committed messages of a topic, from an offset or as a consumer group", run: runConsume})
}

func runConsume(args []string) error {
	fs := newFlags("consume", "--topic T [--addr host:port,…] [--offset O | --group G [--commit-every D] [--follow D]] [--max M] [--json]", `
Reads committed messages from the topic's ConsumeQueue. With --offset, from
the broker at the first --addr (any broker, leader or follower: they all hold
the same committed messages).

With --group, as a member of consumer group G (RocketMQ's push consumer): it
asks the leader where the group is, reads from there, commits the group's
offset every --commit-every and when it is done, and stops when it has read
everything (or, with --follow D, when nothing new came for D) or --max
messages. If the leader changes while it reads, it asks
the new leader where the group is; a broker with an older offset makes it
read messages again (marked "again": delivery is at least once). How old the
new leader's offset can be depends on the brokers' --offsets.`)
	cf := addClientFlags(fs, false)
	topic := fs.String("topic", "", "topic name")
	offset := fs.Uint64("offset", 0, "first queue offset to read (without --group)")
	group := fs.String("group", "", "consumer group: resume where the group committed, and commit as it reads")
	commitEvery := fs.Duration("commit-every", 5*time.Second, "with --group, how often to commit the group's offset (RocketMQ's persistConsumerOffsetInterval)")
	follow := fs.Duration("follow", 0, "with --group, keep reading new messages until none came for this long (0: stop when caught up)")
	max := fs.Int("max", 32, fmt.Sprintf("most messages to read (1..%d; with --group, in all)", server.MaxConsume))
	asJSON := fs.Bool("json", false, "print the raw JSON answer (without --group)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	if *max < 1 || *max > server.MaxConsume {
		return usagef("--max %d must be in 1..%d", *max, server.MaxConsume)
	}
	if *group != "" {
		if err := broker.CheckGroup(*group); err != nil {
			return usagef("--group: %v", err)
		}
		if *asJSON {
			return usagef("--json prints one raw answer; it does not go with --group")
		}
		if *commitEvery <= 0 {
			return usagef("--commit-every %v must be positive", *commitEvery)
		}
		if *follow < 0 {
			return usagef("--follow %v must not be negative", *follow)
		}
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	if *group != "" {
		g := &groupReader{c: c, group: *group, topic: *topic, commitEvery: *commitEvery, follow: *follow}
		return g.run(ctx, *max)
	}
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

// groupReader is one consumer of a group reading one topic from the leader.
type groupReader struct {
	c            *client.Client
	group, topic string
	commitEvery  time.Duration
	follow       time.Duration // keep polling until nothing new came for this long

	lead      string // the leader's address ("" to find)
	next      uint64 // next offset to read
	high      uint64 // every offset below was delivered by this run (or before it)
	resumed   bool
	committed uint64
	read      int
	again     int
}

func (g *groupReader) run(ctx context.Context, max int) error {
	lastCommit, lastMessage := time.Now(), time.Now()
	for g.read < max {
		if g.lead == "" {
			if err := g.resume(ctx); err != nil {
				return err
			}
		}
		r, err := g.c.Consume(ctx, g.lead, g.topic, g.next, min(max-g.read, server.MaxConsume))
		var ae *client.APIError
		switch {
		case errors.As(err, &ae) && ae.Code == server.CodeUnknownTopic:
			r = server.ConsumeResponse{}
		case errors.As(err, &ae) && ae.Code == server.CodeOffsetTooSmall && ae.MinOffset > g.next:
			// Retention deleted them before the group read them: a
			// RocketMQ consumer moves on to the queue's first offset too.
			fmt.Printf("offsets %d..%d of %s were deleted by retention before group %s read them; going on at %d\n", g.next, ae.MinOffset-1, g.topic, g.group, ae.MinOffset)
			g.next = ae.MinOffset
			if g.high < g.next {
				g.high = g.next
			}
			continue
		case err != nil && ctx.Err() == nil:
			fmt.Printf("broker at %s did not answer (%v); asking the new leader where group %s is\n", g.lead, err, g.group)
			g.lead = ""
			continue
		case err != nil:
			return err
		}
		for _, m := range r.Messages {
			mark := ""
			if m.QueueOffset < g.high {
				mark, g.again = " (again)", g.again+1
			} else {
				g.high = m.QueueOffset + 1
			}
			fmt.Printf("%s@%d entry %d term %d: %s%s\n", g.topic, m.QueueOffset, m.Index, m.Term, m.Body, mark)
			g.next = m.QueueOffset + 1
			g.read++
		}
		if len(r.Messages) > 0 {
			lastMessage = time.Now()
		}
		idle := len(r.Messages) == 0
		done := idle && time.Since(lastMessage) >= g.follow || g.read >= max
		if done || time.Since(lastCommit) >= g.commitEvery {
			if err := g.commit(ctx); err != nil {
				if ctx.Err() != nil {
					return err
				}
				fmt.Printf("commit on %s failed (%v); asking the new leader where group %s is\n", g.lead, err, g.group)
				g.lead = ""
				continue
			}
			lastCommit = time.Now()
		}
		if done {
			break
		}
		if idle {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	fmt.Printf("group %s: read %d messages of %s (%d again), committed offset %d\n", g.group, g.read, g.topic, g.again, g.committed)
	return nil
}

// resume finds the leader and asks it where the group is
// (QUERY_CONSUMER_OFFSET), retrying while the leader is catching up.
func (g *groupReader) resume(ctx context.Context) error {
	for {
		if a, r, err := g.c.ResumeGroup(ctx, g.group, g.topic); err == nil {
			g.lead, g.next, g.committed = a, r.Offset, r.Offset
			where := fmt.Sprintf("offset %d", r.Offset)
			if !r.Known {
				where = "the first message (broker has no offset for the group)"
			}
			fmt.Printf("group %s resumes %s at %s on broker %d (%s offsets)\n", g.group, g.topic, where, r.Broker, r.Mode)
			if !g.resumed {
				g.resumed, g.high = true, r.Offset
			} else if r.Offset > g.high {
				return fmt.Errorf("broker %d resumes group %s at offset %d, but offsets from %d on were never read: they would be skipped", r.Broker, g.group, r.Offset, g.high)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no leader among %s answered where group %s is: %w", strings.Join(g.c.Addrs, ","), g.group, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (g *groupReader) commit(ctx context.Context) error {
	if g.next == g.committed {
		return nil
	}
	if _, err := g.c.CommitOffset(ctx, g.lead, g.group, g.topic, g.next); err != nil {
		return err
	}
	g.committed = g.next
	return nil
}
