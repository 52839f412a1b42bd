package main

import (
	"fmt"
	"os"
	"sync"
	"text/tabwriter"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "status", summary: "show role, term, leader and log indexes of brokers", run: runStatus})
}

func runStatus(args []string) error {
	fs := newFlags("status", "[--addr host:port,host:port…] [--json]", `
Asks every broker in --addr for its status, all at once: role, term,
leader, commit, applied and last index, and its links to its peers. A broker
that does not answer within its share of --timeout is shown unreachable;
the others are still shown.`)
	cf := addClientFlags(fs, false)
	asJSON := fs.Bool("json", false, "print the raw JSON answers")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	// Every broker at once, each with its own attempt timeout: one that
	// does not answer (stopped, hung) does not hide the others.
	type answer struct {
		st  server.Status
		err error
	}
	answers := make([]answer, len(c.Addrs))
	var wg sync.WaitGroup
	for i, addr := range c.Addrs {
		wg.Go(func() {
			st, err := c.StatusOnce(ctx, addr)
			answers[i] = answer{st, err}
		})
	}
	wg.Wait()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "BROKER\tADDR\tROLE\tTERM\tLEADER\tCOMMIT\tAPPLIED\tLAST\tFSYNCS\tPARTITIONED")
	}
	var firstErr error
	for i, addr := range c.Addrs {
		st, err := answers[i].st, answers[i].err
		if err != nil {
			fmt.Fprintf(tw, "?\t%s\tunreachable: %v\n", addr, err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if *asJSON {
			printJSON(st)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%v\n", st.ID, addr, st.Role, st.Term, st.Leader, st.Commit, st.Applied, st.LastIndex, st.Fsyncs, st.Cut)
	}
	tw.Flush()
	return firstErr
}
