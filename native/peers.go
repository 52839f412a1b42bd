package main

// Address conventions. Every broker listens on two ports: the peer port
// (WebSocket links between brokers, named in --peers) and the HTTP port (the
// API and /v1/watch). Unless told otherwise the HTTP port is the peer port
// + 1000: --peers 1=127.0.0.1:7001 means broker 1's API is 127.0.0.1:8001.
// --http-peers overrides the convention for every broker.

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"dledgerlab/core"
)

// HTTPPortOffset is the distance between a broker's peer and HTTP ports.
const HTTPPortOffset = 1000

// parsePeers parses "1=host:port,2=host:port" for flag name.
func parsePeers(flagName, s string) (map[core.NodeID]string, error) {
	out := map[core.NodeID]string{}
	if strings.TrimSpace(s) == "" {
		return nil, usagef("%s is required, e.g. %s 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003", flagName, flagName)
	}
	for _, part := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, usagef("%s: entry %q is not id=host:port", flagName, part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, usagef("%s: entry %q: the id must be a number from 1", flagName, part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, usagef("%s: entry %q: %q is not host:port", flagName, part, addr)
		}
		if _, dup := out[core.NodeID(id)]; dup {
			return nil, usagef("%s: broker %d is listed twice", flagName, id)
		}
		out[core.NodeID(id)] = addr
	}
	return out, nil
}

// httpOf applies the port convention to a peer address.
func httpOf(peerAddr string) (string, error) {
	host, port, err := net.SplitHostPort(peerAddr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p+HTTPPortOffset > 65535 {
		return "", fmt.Errorf("peer port %q + %d is not a port", port, HTTPPortOffset)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+HTTPPortOffset)), nil
}

// httpAddrs returns every member's HTTP address: from --http-peers
// (httpPeers) if given, else by the port convention from its peer address;
// --http (self), if given, overrides the member's own. what names the
// members ("broker", "controller") in errors.
func httpAddrs(peers map[core.NodeID]string, httpPeers, self string, id core.NodeID, what string) (map[core.NodeID]string, error) {
	https := map[core.NodeID]string{}
	var err error
	if httpPeers != "" {
		if https, err = parsePeers("--http-peers", httpPeers); err != nil {
			return nil, err
		}
		for pid := range peers {
			if _, ok := https[pid]; !ok {
				return nil, usagef("--http-peers has no address for %s %d", what, pid)
			}
		}
	} else {
		for pid, addr := range peers {
			if https[pid], err = httpOf(addr); err != nil {
				return nil, usagef("--peers: %s %d: %v", what, pid, err)
			}
		}
	}
	if self != "" {
		https[id] = self
	}
	return https, nil
}

// formatPeers is the inverse of parsePeers, sorted by id.
func formatPeers(m map[core.NodeID]string) string {
	ids := make([]core.NodeID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%s", id, m[id])
	}
	return strings.Join(parts, ",")
}

// splitAddrs parses a comma-separated list of host:port for flag name.
func splitAddrs(flagName, s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, usagef("%s: %q is not host:port", flagName, a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, usagef("%s needs at least one host:port", flagName)
	}
	return out, nil
}

// envOr returns the environment variable's value if def is empty.
func envOr(def, env string) string {
	if def != "" {
		return def
	}
	return os.Getenv(env)
}
