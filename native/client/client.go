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
	// AttemptTimeout bounds one request to one broker, so that a broker
	// that accepts connections but does not answer (stopped with SIGSTOP,
	// hung) costs one attempt, not the whole command. 0 derives it from
	// the caller's deadline (see Attempt).
	AttemptTimeout time.Duration
	// Batch makes concurrent Produce calls to the same broker share batch
	// requests (POST /v1/messages; see batch.go). Each message keeps its
	// own producer, seq, retries and answer. The benchmark turns it on.
	Batch bool
	// Stream makes concurrent Produce calls to the same broker share one
	// produce stream (GET /v1/produce, a WebSocket; see stream.go),
	// pipelined: a message goes out without waiting for the answers of
	// those before it. Each message keeps its own producer, seq, retries
	// and answer. It takes precedence over Batch.
	Stream bool

	mu        sync.Mutex
	leader    string
	batchers  map[string]*batcher
	streamers map[string]*streamer
	opened    int // produce streams opened
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

// NoAnswerError is an attempt that ran out of time at one broker.
type NoAnswerError struct {
	Addr  string
	After time.Duration
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("the broker at %s did not answer within %v", e.Addr, e.After)
}

// Attempt returns how long one request to one broker may take under ctx:
// AttemptTimeout when set; else an eighth of what remains of ctx's
// deadline, between 250 ms and 5 s (a command with the default 10 s
// --timeout gives each broker 1.25 s, so it can try all three of a group
// and retry); 5 s without a deadline.
func (c *Client) Attempt(ctx context.Context) time.Duration {
	if c.AttemptTimeout > 0 {
		return c.AttemptTimeout
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return 5 * time.Second
	}
	return min(max(time.Until(dl)/8, 250*time.Millisecond), 5*time.Second).Round(time.Millisecond)
}

// attempt runs f under the attempt's timeout and turns running out of it
// (while ctx still has time) into a NoAnswerError naming addr.
func (c *Client) attempt(ctx context.Context, addr string, f func(context.Context) error) error {
	d := c.Attempt(ctx)
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &NoAnswerError{Addr: addr, After: d}
	}
	return err
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
	// silent holds the brokers that did not answer an attempt in this call:
	// a follower may still name one as leader until it notices.
	silent := map[string]bool{}
	for {
		var resp server.ProduceResponse
		var err error
		if c.Stream {
			// The stream bounds the attempt itself (one timer per stream,
			// not one context per message; stream.go).
			resp, err = c.streamFor(addr).produce(ctx, c.Attempt(ctx), topic, req)
		} else {
			err = c.attempt(ctx, addr, func(actx context.Context) error {
				var err error
				switch {
				case c.Batch:
					resp, err = c.batcherFor(addr).produce(actx, topic, req)
				default:
					resp, err = c.ProduceTo(actx, addr, topic, req)
				}
				return err
			})
		}
		if err == nil {
			c.setLeader(addr)
			return resp, nil
		}
		last = err
		wait := retryPause
		var ae *APIError
		var na *NoAnswerError
		switch {
		case errors.As(err, &na):
			// Try another broker at once; the same producer and seq make
			// a retry of a message that did arrive a duplicate, stored once.
			silent[addr] = true
			addr, wait = c.next(addr), 0
		case errors.As(err, &ae) && ae.LeaderAddr != "" && ae.LeaderAddr != addr && silent[ae.LeaderAddr] &&
			(ae.Code == server.CodeNotLeader || ae.Code == server.CodeLeaderChanged):
			// It names a leader that did not answer us: ask another broker
			// after a pause (an election is probably under way).
			addr = c.next(addr)
		case ae != nil && ae.LeaderAddr != "" && ae.LeaderAddr != addr &&
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
				return server.ProduceResponse{}, gaveUp(ctx, last)
			}
			// Connection refused or reset: the broker is down. Try the
			// next one at once; pause only after trying them all.
			addr = c.next(addr)
			if refused++; refused%len(c.Addrs) != 0 {
				wait = 0
			}
		}
		if ae != nil || na != nil {
			refused = 0
		}
		if ctx.Err() != nil {
			return server.ProduceResponse{}, gaveUp(ctx, last)
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return server.ProduceResponse{}, gaveUp(ctx, last)
			case <-time.After(wait):
			}
		}
	}
}

// gaveUp is the error of a call whose ctx ended: why, and the last
// broker's answer (or silence).
func gaveUp(ctx context.Context, last error) error {
	return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
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

// CommitOffset commits group's offset in topic at addr (the leader; a
// follower answers NOT_LEADER).
func (c *Client) CommitOffset(ctx context.Context, addr, group, topic string, offset uint64) (server.OffsetResponse, error) {
	var out server.OffsetResponse
	err := c.do(ctx, http.MethodPost, addr, "/v1/groups/"+url.PathEscape(group)+"/offsets", server.OffsetCommitRequest{Topic: topic, Offset: offset}, &out, false)
	return out, err
}

// FetchOffset asks addr for group's offset in topic.
func (c *Client) FetchOffset(ctx context.Context, addr, group, topic string) (server.OffsetResponse, error) {
	var out server.OffsetResponse
	q := url.Values{"topic": {topic}}
	err := c.do(ctx, http.MethodGet, addr, "/v1/groups/"+url.PathEscape(group)+"/offsets?"+q.Encode(), nil, &out, false)
	return out, err
}

// ResumeGroup finds the leader among Addrs and asks it where group is in
// topic (RocketMQ's QUERY_CONSUMER_OFFSET): the leader's address and its
// answer. One pass over the brokers; a leader still catching up on a new
// term (UNAVAILABLE) or no leader at all is an error, to retry shortly.
func (c *Client) ResumeGroup(ctx context.Context, group, topic string) (string, server.OffsetResponse, error) {
	var errs []error
	for _, a := range c.Addrs {
		st, err := c.StatusOnce(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Role != "leader" {
			continue
		}
		r, err := c.FetchOffset(ctx, a, group, topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.setLeader(a)
		return a, r, nil
	}
	if len(errs) == 0 {
		return "", server.OffsetResponse{}, fmt.Errorf("no leader among %d brokers to ask where group %s is in %s", len(c.Addrs), group, topic)
	}
	return "", server.OffsetResponse{}, fmt.Errorf("no leader answered where group %s is in %s: %w", group, topic, errors.Join(errs...))
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

// StatusOnce asks addr for its status within one attempt's timeout
// (Attempt); running out of it is a NoAnswerError.
func (c *Client) StatusOnce(ctx context.Context, addr string) (server.Status, error) {
	var out server.Status
	err := c.attempt(ctx, addr, func(actx context.Context) error {
		var err error
		out, err = c.Status(actx, addr)
		return err
	})
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
