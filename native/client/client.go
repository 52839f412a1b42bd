// Package client talks to native brokers over their HTTP API: produce with
// retries that follow NOT_LEADER to the leader and keep the producer's
// sequence (so a retry after an unknown outcome is stored once), consume,
// status and the admin calls. The CLI, the benchmark and the tests use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"dledgerlab/native/server"
)

// Client sends requests to a group of brokers.
type Client struct {
	// Addrs are the brokers' HTTP addresses (host:port); requests start at
	// the last known leader, else the first address.
	Addrs      []string
	AdminToken string
	HTTP       *http.Client

	mu     sync.Mutex
	leader string
}

// New returns a client for the brokers at addrs.
func New(addrs []string) *Client {
	return &Client{Addrs: addrs, HTTP: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	}}
}

// APIError is a JSON error answer.
type APIError struct {
	Status int
	Addr   string
	server.ErrorBody
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d from %s): %s", e.Code, e.Status, e.Addr, e.Message)
}

// Retryable reports whether the same request may succeed later: no leader,
// an unknown outcome (retry with the same producer and seq), a transfer.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case server.CodeNotLeader, server.CodeTimeout, server.CodeLeaderChanged, server.CodeNotCommitted,
		server.CodeTransferring, server.CodeUnavailable:
		return true
	}
	return false
}

// Leader returns the address requests go to first.
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != "" {
		return c.leader
	}
	if len(c.Addrs) > 0 {
		return c.Addrs[0]
	}
	return ""
}

func (c *Client) setLeader(addr string) {
	c.mu.Lock()
	c.leader = addr
	c.mu.Unlock()
}

// next returns the address after addr in Addrs (round robin).
func (c *Client) next(addr string) string {
	for i, a := range c.Addrs {
		if a == addr {
			return c.Addrs[(i+1)%len(c.Addrs)]
		}
	}
	return c.Addrs[0]
}

// Produce sends one message and retries until it is stored, a
// non-retryable error comes back, or ctx ends. It follows NOT_LEADER to the
// leader's address. Retries keep the producer id and seq, so a message whose
// first attempt had an unknown outcome is still stored once.
func (c *Client) Produce(ctx context.Context, topic string, req server.ProduceRequest) (server.ProduceResponse, error) {
	addr := c.Leader()
	var last error
	refused := 0 // connection errors in a row
	for {
		resp, err := c.ProduceTo(ctx, addr, topic, req)
		if err == nil {
			c.setLeader(addr)
			return resp, nil
		}
		last = err
		wait := retryPause
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.LeaderAddr != "" && ae.LeaderAddr != addr &&
			(ae.Code == server.CodeNotLeader || ae.Code == server.CodeLeaderChanged):
			// The broker told us where to go.
			addr, wait = ae.LeaderAddr, 0
			c.setLeader(addr)
		case ae != nil && !ae.Retryable():
			return server.ProduceResponse{}, err
		case ae != nil && ae.Code == server.CodeNotLeader:
			addr = c.next(addr) // no leader known there (an election): ask another broker
		case ae == nil:
			if ctx.Err() != nil {
				return server.ProduceResponse{}, fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			// Connection refused or reset: the broker is down. Try the
			// next one at once; pause only after trying them all.
			addr = c.next(addr)
			if refused++; refused%len(c.Addrs) != 0 {
				wait = 0
			}
		}
		if ae != nil {
			refused = 0
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return server.ProduceResponse{}, fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
		}
	}
}

// retryPause is the pause before retrying while the group has no leader.
// An election takes a few hundred milliseconds; polling at this pace finds
// the new leader within one pause of its election.
const retryPause = 20 * time.Millisecond

// ProduceTo makes one produce attempt at addr.
func (c *Client) ProduceTo(ctx context.Context, addr, topic string, req server.ProduceRequest) (server.ProduceResponse, error) {
	var out server.ProduceResponse
	err := c.do(ctx, http.MethodPost, addr, "/v1/topics/"+url.PathEscape(topic)+"/messages", req, &out, false)
	return out, err
}

// Consume reads up to max messages of topic from offset at addr.
func (c *Client) Consume(ctx context.Context, addr, topic string, offset uint64, max int) (server.ConsumeResponse, error) {
	var out server.ConsumeResponse
	q := url.Values{"offset": {strconv.FormatUint(offset, 10)}, "max": {strconv.Itoa(max)}}
	err := c.do(ctx, http.MethodGet, addr, "/v1/topics/"+url.PathEscape(topic)+"/messages?"+q.Encode(), nil, &out, false)
	return out, err
}

// ConsumeAll reads every message of topic at addr from offset 0. An unknown
// topic is an empty result.
func (c *Client) ConsumeAll(ctx context.Context, addr, topic string) ([]server.ConsumedMessage, error) {
	var all []server.ConsumedMessage
	off := uint64(0)
	for {
		r, err := c.Consume(ctx, addr, topic, off, server.MaxConsume)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == server.CodeUnknownTopic {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		if len(r.Messages) == 0 {
			return all, nil
		}
		all = append(all, r.Messages...)
		off = r.NextOffset
	}
}

// Status asks addr for its status.
func (c *Client) Status(ctx context.Context, addr string) (server.Status, error) {
	var out server.Status
	err := c.do(ctx, http.MethodGet, addr, "/v1/status", nil, &out, false)
	return out, err
}

// Admin makes an admin call (partition, heal, transfer, crash) at addr.
func (c *Client) Admin(ctx context.Context, addr, action string, req server.AdminRequest) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, http.MethodPost, addr, "/v1/admin/"+action, req, &out, true)
	return out, err
}

func (c *Client) do(ctx context.Context, method, addr, path string, in, out any, admin bool) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin && c.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error server.ErrorBody `json:"error"`
		}
		if json.Unmarshal(b, &env) != nil || env.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Addr: addr, ErrorBody: server.ErrorBody{Code: "HTTP", Message: string(bytes.TrimSpace(b))}}
		}
		return &APIError{Status: resp.StatusCode, Addr: addr, ErrorBody: env.Error}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// AdminCall posts any admin body (campaign, rules, link) to one broker.
func (c *Client) AdminCall(ctx context.Context, addr, action string, req any) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, http.MethodPost, addr, "/v1/admin/"+action, req, &out, true)
	return out, err
}
