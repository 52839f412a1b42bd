package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"dledgerlab/lessons"
	"dledgerlab/lessons/ctlguide"
	"dledgerlab/lessons/guide"
)

func init() {
	register(command{name: "lesson", summary: "list, check and run the guided lessons (simulator or --native)", run: runLesson})
}

// nativeLessonDriver starts a real local cluster shaped for a lesson and
// returns a lessons.Driver over it and a function that stops it. The
// cluster launcher (cmd_cluster.go) sets it.
var nativeLessonDriver func(l *lessons.Lesson) (guide.Driver, func(), error)

func runLesson(args []string) error {
	usage := `
Subcommands:
  list                 the lessons, in order
  check FILE…          validate lesson files; errors name the line
  run NAME [--native] [--lang zh]
                       play a lesson on the simulator, or on real brokers
                       started on this machine (--native)`
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(os.Stderr, "Usage: dledgerlab lesson list | check FILE… | run NAME [--native]\n"+usage)
		if len(args) == 0 {
			return usagef("missing subcommand (list, check or run)")
		}
		return nil
	}
	switch args[0] {
	case "list":
		all, err := lessons.All()
		for _, l := range all {
			where := ""
			if l.SimOnly {
				where = "  (simulator only)"
			}
			fmt.Printf("%-22s %s / %s%s\n", l.ID, l.Title.En, l.Title.Zh, where)
		}
		ctl, cerr := lessons.Controller()
		for _, l := range ctl {
			where := "  (Controller mode)"
			if l.SimOnly {
				where = "  (Controller mode, simulator only)"
			}
			fmt.Printf("%-22s %s / %s%s\n", l.ID, l.Title.En, l.Title.Zh, where)
		}
		return errors.Join(err, cerr)
	case "check":
		if len(args) < 2 {
			return usagef("check: name at least one lesson file")
		}
		var errs []error
		for _, f := range args[1:] {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Files in a controller/ folder are Controller-mode lessons.
			parse := func(name string, data []byte) error { _, err := lessons.Parse(name, data); return err }
			if filepath.Base(filepath.Dir(f)) == "controller" {
				parse = func(name string, data []byte) error { _, err := lessons.ParseController(name, data); return err }
			}
			if err := parse(f, data); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Printf("%s: ok\n", f)
		}
		return errors.Join(errs...)
	case "run":
		return runLessonRun(args[1:])
	}
	return usagef("unknown subcommand %q (list, check or run)", args[0])
}

func runLessonRun(args []string) error {
	fs := newFlags("lesson run", "NAME [--native] [--lang en|zh]", `
Plays a lesson: narrates each step, performs its actions and waits for its
checks, then the goal. On the simulator by default; with --native on real
broker processes started on this machine for the lesson and stopped after.`)
	native := fs.Bool("native", false, "run against real local brokers")
	lang := fs.String("lang", "en", "narration language: en or zh")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return usagef("name a lesson (dledgerlab lesson list shows them)")
	}
	if *lang != "en" && *lang != "zh" {
		return usagef("--lang %q: want en or zh", *lang)
	}
	var err error
	if ctl, _ := lessons.Controller(); ctl != nil {
		for _, l := range ctl {
			if l.ID != name && strings.TrimSuffix(l.File, ".yaml") != name {
				continue
			}
			say := func(s string) { fmt.Println(s) }
			if *native && l.SimOnly {
				return fmt.Errorf("lesson %s needs the simulator (its seed names the master, or its checks need the checkers); run it without --native", l.ID)
			}
			fmt.Printf("%s\n\n%s\n", l.Title.In(*lang), strings.TrimSpace(l.Intro.In(*lang)))
			if *native {
				ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				err = runCtlLessonNative(ctx, l, *lang, say)
			} else {
				err = ctlguide.Narrate(l, *lang, say)
			}
			if err != nil {
				return fmt.Errorf("lesson %s: %w", l.ID, err)
			}
			fmt.Printf("\nlesson %s: every check held\n", l.ID)
			return nil
		}
	}
	l, err := lessons.Find(name)
	if err != nil {
		return err
	}
	var d guide.Driver
	var now func() string
	if *native {
		if l.SimOnly {
			return fmt.Errorf("lesson %s needs the simulator's checkers; run it without --native", l.ID)
		}
		if nativeLessonDriver == nil {
			return errors.New("this build has no native cluster launcher")
		}
		nd, stop, err := nativeLessonDriver(l)
		if err != nil {
			return err
		}
		defer stop()
		d, now = nd, func() string { return "" }
	} else {
		sd, err := guide.NewSimDriver(l)
		if err != nil {
			return err
		}
		d, now = sd, func() string { return fmt.Sprintf("[%6d ms] ", sd.S.Now()) }
	}
	fmt.Printf("%s\n\n%s\n", l.Title.In(*lang), strings.TrimSpace(l.Intro.In(*lang)))
	r := guide.NewRunner(l, d)
	r.Log = func(format string, a ...any) { fmt.Printf("  %s%s\n", now(), fmt.Sprintf(format, a...)) }
	for i, s := range l.Steps {
		fmt.Printf("\n%d. %s\n", i+1, s.Say.In(*lang))
		if err := r.RunStep(i); err != nil {
			return err
		}
	}
	fmt.Printf("\n%s\n", l.Goal.Say.In(*lang))
	if err := r.RunGoal(); err != nil {
		return err
	}
	fmt.Printf("\nlesson %s: every check held\n", l.ID)
	return nil
}
