package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"dledgerlab/core"
	"dledgerlab/native/server"
)

// memberFlags are the flags of one member of a Raft group — a broker
// (node) or a controller: who it is, where every member listens, its data
// folder, the group's secret and the Raft timings.
type memberFlags struct {
	role                                string
	id                                  *uint64
	peers, http, httpPeers, dir, secret *string
	token                               *string
	heartbeat, electionMin, electionMax *time.Duration
}

// addMemberFlags defines the member flags on fs for a member called role
// ("broker", "controller").
func addMemberFlags(fs *flag.FlagSet, role string) *memberFlags {
	f := addPeerFlags(fs, role)
	f.heartbeat = fs.Duration("heartbeat", 50*time.Millisecond, "how often a leader sends heartbeats (a multiple of the 10ms tick)")
	f.electionMin = fs.Duration("election-min", 150*time.Millisecond, "shortest election timeout: a follower that hears no leader this long campaigns")
	f.electionMax = fs.Duration("election-max", 300*time.Millisecond, "longest election timeout; each timeout is drawn at random from [min, max] (equal: no randomness)")
	return f
}

// addPeerFlags defines the member flags without the Raft timings, for a
// member of a group that runs no Raft (a broker in Controller mode).
func addPeerFlags(fs *flag.FlagSet, role string) *memberFlags {
	return &memberFlags{
		role:      role,
		id:        fs.Uint64("id", 0, fmt.Sprintf("this %s's id (1..N), one of --peers", role)),
		peers:     fs.String("peers", "", fmt.Sprintf("every %s's peer address: 1=host:port,2=host:port,…", role)),
		http:      fs.String("http", "", fmt.Sprintf("HTTP listen address (default: this %s's address in --http-peers)", role)),
		httpPeers: fs.String("http-peers", "", fmt.Sprintf("every %s's HTTP address, id=host:port,… (default: peer port + 1000)", role)),
		dir:       fs.String("dir", "", fmt.Sprintf("data folder (default data/%s-<id>)", role)),
		secret:    fs.String("secret", "", fmt.Sprintf("cluster secret shared by every %s (default $DLEDGERLAB_SECRET; prefer the variable: every local user can read a command line with ps)", role)),
		token:     fs.String("admin-token", "", "token for the admin API (default $DLEDGERLAB_ADMIN_TOKEN, preferred for the same reason; empty disables admin calls)"),
	}
}

// adminToken is --admin-token, else $DLEDGERLAB_ADMIN_TOKEN.
func (f *memberFlags) adminToken() string { return envOr(*f.token, "DLEDGERLAB_ADMIN_TOKEN") }

// parse parses args (no positional argument allowed) and returns the
// member they describe.
func (f *memberFlags) parse(fs *flag.FlagSet, args []string) (server.GroupMember, error) {
	var gm server.GroupMember
	if err := parse(fs, args); err != nil {
		return gm, err
	}
	if fs.NArg() > 0 {
		return gm, usagef("unexpected argument %q", fs.Arg(0))
	}
	peers, err := parsePeers("--peers", *f.peers)
	if err != nil {
		return gm, err
	}
	self := core.NodeID(*f.id)
	if _, ok := peers[self]; !ok || self == core.None {
		return gm, usagef("--id %d is not one of --peers (%s)", *f.id, formatPeers(peers))
	}
	https, err := httpAddrs(peers, *f.httpPeers, *f.http, self, f.role)
	if err != nil {
		return gm, err
	}
	secret := envOr(*f.secret, "DLEDGERLAB_SECRET")
	if secret == "" {
		return gm, usagef("--secret is required (or set DLEDGERLAB_SECRET): %ss prove to each other that they know it", f.role)
	}
	dir := *f.dir
	if dir == "" {
		dir = filepath.Join("data", fmt.Sprintf("%s-%d", f.role, *f.id))
	}
	gm = server.GroupMember{ID: self, Peers: peers, HTTP: https, Dir: dir, Secret: secret}
	if f.heartbeat == nil {
		return gm, nil
	}
	gm.HeartbeatTicks, gm.ElectionTicksMin, gm.ElectionTicksMax, err = raftTimings(*f.heartbeat, *f.electionMin, *f.electionMax)
	return gm, err
}

// raftTimings checks --heartbeat, --election-min and --election-max and
// returns them in ticks of server.DefaultTick.
func raftTimings(heartbeat, electionMin, electionMax time.Duration) (hbTicks, minTicks, maxTicks int, err error) {
	ticks := func(flag string, d time.Duration) (int, error) {
		if d < server.DefaultTick || d%server.DefaultTick != 0 {
			return 0, usagef("%s %v: want a multiple of the %v tick (e.g. 150ms)", flag, d, server.DefaultTick)
		}
		return int(d / server.DefaultTick), nil
	}
	if hbTicks, err = ticks("--heartbeat", heartbeat); err != nil {
		return
	}
	if minTicks, err = ticks("--election-min", electionMin); err != nil {
		return
	}
	if maxTicks, err = ticks("--election-max", electionMax); err != nil {
		return
	}
	if minTicks <= hbTicks {
		err = usagef("--election-min %v must be longer than --heartbeat %v (several heartbeats, or one late heartbeat starts an election)", electionMin, heartbeat)
	} else if maxTicks < minTicks {
		err = usagef("--election-max %v is shorter than --election-min %v", electionMax, electionMin)
	}
	return
}
