package cluster

// The live view's HTTP side: the playground page in live mode, the merged
// frame stream (a ClusterView, or a ctlsim.View in Controller mode), and
// the action endpoint that needs the admin token.
//
//	GET  /                    the page (redirected to /?live, the page's live mode)
//	GET  /live-config.json    {"live": true, "nodes": N, "actions": bool} (and
//	                          "mode": "controller" in Controller mode)
//	GET  /v1/watch            WebSocket: one merged frame 4 times a second
//	GET  /v1/view             one merged frame
//	POST /v1/cluster/actions  a sim.Action; Authorization: Bearer <admin token>

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/native/server"
)

// Handler serves page (the playground's web.Handler) in live mode and the
// live view's API.
func (l *Live) Handler(page http.Handler) http.Handler {
	return liveHandler(page, liveAPI{
		watch: func(w http.ResponseWriter, r *http.Request) {
			server.StreamViews(w, r, l.ctx.Done(), "the cluster launcher is stopping", func() (sim.ClusterView, error) {
				return l.View(), nil
			})
		},
		view: func() any { return l.View() },
		config: func() any {
			return map[string]any{"live": true, "nodes": len(l.cfg.Members), "actions": l.cfg.AdminToken != ""}
		},
		token: l.cfg.AdminToken,
		logf:  l.logf,
		do:    l.Do,
	})
}

// Handler serves page in live mode and the Controller-mode live view's
// API: the same endpoints as Live's, with ctlsim.View frames
// (live-config.json says "mode": "controller").
func (l *CtlLive) Handler(page http.Handler) http.Handler {
	return liveHandler(page, liveAPI{
		watch: func(w http.ResponseWriter, r *http.Request) {
			server.StreamViews(w, r, l.ctx.Done(), "the cluster launcher is stopping", func() (ctlsim.View, error) {
				return l.View(), nil
			})
		},
		view: func() any { return l.View() },
		config: func() any {
			return map[string]any{"live": true, "mode": "controller", "nodes": ctlMembers, "actions": l.cfg.AdminToken != ""}
		},
		token: l.cfg.AdminToken,
		logf:  l.logf,
		do:    l.Do,
	})
}

// liveAPI is what a live view's endpoints need from it.
type liveAPI struct {
	watch  http.HandlerFunc
	view   func() any
	config func() any
	token  string
	logf   func(format string, args ...any)
	do     func(context.Context, sim.Action) error
}

func liveHandler(page http.Handler, api liveAPI) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/watch", api.watch)
	mux.Handle("GET /v1/view", noCache(func(w http.ResponseWriter, r *http.Request) { server.WriteJSON(w, http.StatusOK, api.view()) }))
	mux.Handle("POST /v1/cluster/actions", noCache(api.handleAction))
	mux.Handle("GET /live-config.json", noCache(func(w http.ResponseWriter, r *http.Request) {
		server.WriteJSON(w, http.StatusOK, api.config())
	}))
	mux.Handle("/v1/", noCache(func(w http.ResponseWriter, r *http.Request) {
		server.WriteError(w, http.StatusNotFound, server.ErrorBody{Code: server.CodeNotFound, Message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.URL.Path == "/" || r.URL.Path == "/index.html") && !r.URL.Query().Has("live") {
			http.Redirect(w, r, "/?live", http.StatusFound)
			return
		}
		if page == nil {
			http.NotFound(w, r)
			return
		}
		page.ServeHTTP(w, r)
	}))
	return mux
}

// noCache marks h's JSON answers as not to be reused without asking: the
// page polls them.
func noCache(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h(w, r)
	})
}

// handleAction performs one sim.Action; answers 401 without a token, 403
// with a wrong one (or when the view was started without one), errors as
// the brokers' JSON.
func (api liveAPI) handleAction(w http.ResponseWriter, r *http.Request) {
	check := server.AdminCheck{
		Token:    api.token,
		Missing:  "actions need the instructor's admin token: Authorization: Bearer <token>",
		Disabled: "this live view was started without --admin-token: it can only watch",
		Refused: func(r *http.Request) {
			if api.logf != nil {
				api.logf("action with a wrong admin token refused (from %s)", r.RemoteAddr)
			}
		},
	}
	if !check.Allow(w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			server.WriteError(w, http.StatusRequestEntityTooLarge, server.ErrorBody{Code: server.CodeTooLarge, Message: "an action is at most 64 KiB"})
			return
		}
		server.WriteError(w, http.StatusBadRequest, server.ErrorBody{Code: server.CodeBadRequest, Message: "reading the request body: " + err.Error()})
		return
	}
	var a sim.Action
	if err := server.DecodeJSON(body, &a, false); err != nil {
		server.WriteError(w, http.StatusBadRequest, server.ErrorBody{Code: server.CodeBadRequest, Message: "action: " + err.Error()})
		return
	}
	if err := api.do(r.Context(), a); err != nil {
		var ae *ActionError
		if errors.As(err, &ae) {
			server.WriteError(w, ae.Status, server.ErrorBody{Code: ae.Code, Message: ae.Message})
			return
		}
		server.WriteError(w, http.StatusInternalServerError, server.ErrorBody{Code: server.CodeInternal, Message: err.Error()})
		return
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "action": a})
}
