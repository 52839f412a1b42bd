package cluster

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// serve sends one request to a live view (of no brokers) with headers hdr
// (name, value, …).
func serve(l *Live, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	l.Handler(nil).ServeHTTP(w, r)
	return w
}

// The action endpoint answers a missing or wrong token like a broker's
// admin API (401 UNAUTHORIZED, 403 FORBIDDEN, the brokers' JSON), in its
// own words, and logs a wrong token without the token.
func TestActionsNeedTheToken(t *testing.T) {
	var logged []string
	l := New(Config{AdminToken: "teacher", Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }})
	defer l.Close()
	watchOnly := New(Config{})
	defer watchOnly.Close()
	const action = `{"kind":"heal"}`
	for _, tc := range []struct {
		name   string
		l      *Live
		hdr    []string
		status int
		body   string
	}{
		{"no token", l, nil, 401, `{"error":{"code":"UNAUTHORIZED","message":"actions need the instructor's admin token: Authorization: Bearer \u003ctoken\u003e"}}`},
		{"wrong token", l, []string{"Authorization", "Bearer student"}, 403, `{"error":{"code":"FORBIDDEN","message":"wrong admin token"}}`},
		{"wrong x-admin-token", l, []string{"X-Admin-Token", "student"}, 403, `{"error":{"code":"FORBIDDEN","message":"wrong admin token"}}`},
		{"started without a token", watchOnly, []string{"Authorization", "Bearer teacher"}, 403, `{"error":{"code":"FORBIDDEN","message":"this live view was started without --admin-token: it can only watch"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.l, http.MethodPost, "/v1/cluster/actions", action, tc.hdr...)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.body+"\n", w.Body.String())
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"))
		})
	}
	if assert.Len(t, logged, 2, "each wrong token is logged") {
		assert.Contains(t, logged[0], "action with a wrong admin token refused")
		for _, line := range logged {
			assert.NotContains(t, line, "student")
			assert.NotContains(t, line, "teacher")
		}
	}

	// The right token reaches the action's own checks.
	w := serve(l, http.MethodPost, "/v1/cluster/actions", `{"kind":`, "Authorization", "Bearer teacher")
	assert.Equal(t, 400, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"code":"BAD_REQUEST","message":"action: malformed JSON`)
}

// Every JSON answer of the live view says no-cache: the page polls them.
func TestLiveAnswersAreNotCached(t *testing.T) {
	l := New(Config{AdminToken: "teacher"})
	defer l.Close()
	for _, path := range []string{"/v1/view", "/live-config.json", "/v1/nothing"} {
		w := serve(l, http.MethodGet, path, "")
		assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"), path)
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"), path)
	}
	w := serve(l, http.MethodGet, "/live-config.json", "")
	assert.Equal(t, 200, w.Code)
	assert.JSONEq(t, `{"live":true,"nodes":0,"actions":true}`, w.Body.String())
	w = serve(l, http.MethodGet, "/v1/nothing", "")
	assert.Equal(t, 404, w.Code)
	assert.Equal(t, `{"error":{"code":"NOT_FOUND","message":"no endpoint GET /v1/nothing"}}`+"\n", w.Body.String())
}
