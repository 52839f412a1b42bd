package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"dledgerlab/web"
)

func init() {
	register(command{name: "play", summary: "serve the playground (the simulator in your browser)", run: runPlay})
}

func runPlay(args []string) error {
	fs := newFlags("play", "[--addr 127.0.0.1:8080]", `
Serves the playground page with the simulator compiled to WebAssembly and
prints its URL. Nothing leaves your machine. The engine is built into the
binary by 'make build'; a binary built without it refuses to start.`)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Without the engine the page would load and sit there with a green
	// badge and buttons that do nothing: say so instead.
	if missing := web.MissingEngine(); missing != "" {
		return fmt.Errorf("the playground's engine (%s) is not in this binary; build with: make build", missing)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usagef("--addr %s: %v", *addr, err)
	}
	fmt.Printf("DLedger Lab playground: http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: web.Handler(), ReadHeaderTimeout: 5 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
