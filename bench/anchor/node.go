package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// maxMessage bounds a POST /apply body.
const maxMessage = 4 << 20

// member is one node of the http mode as its flag names it:
// id=raftAddr=httpAddr.
type member struct {
	peer
	HTTP string
}

func (m member) String() string { return m.ID + "=" + m.Addr + "=" + m.HTTP }

func parseMembers(s string) ([]member, error) {
	var out []member
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Split(part, "=")
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			return nil, fmt.Errorf("member %q: want id=raftAddr=httpAddr", part)
		}
		out = append(out, member{peer: peer{ID: f[0], Addr: f[1]}, HTTP: f[2]})
	}
	return out, nil
}

func joinMembers(ms []member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}

// status is GET /status: what the driver waits on.
type status struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	LeaderID   string `json:"leader_id"`
	LeaderHTTP string `json:"leader_http"`
	Applied    uint64 `json:"applied"`
}

// runNode is one node of the http mode, a child of the driver:
//
//	anchor node --id node1 --members node1=127.0.0.1:P=127.0.0.1:Q,... --dir D
//
// It serves
//
//	POST /apply   the body is one message; the leader applies it and answers
//	              200 once the entry is committed and applied; a follower
//	              answers 307 with Location: the leader's /apply (and the
//	              X-Raft-Leader header), or 503 while no leader is known.
//	GET  /status  this node's role and the leader it knows (JSON).
//
// It stops on SIGTERM or SIGINT (the driver also has the kernel kill it if
// the driver dies: see proc_linux.go).
func runNode(args []string) error {
	fs := flag.NewFlagSet("anchor node", flag.ContinueOnError)
	id := fs.String("id", "", "this node's ID, one of --members")
	membersFlag := fs.String("members", "", "every node as id=raftAddr=httpAddr, comma-separated")
	dir := fs.String("dir", "", "this node's data folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	members, err := parseMembers(*membersFlag)
	if err != nil {
		return err
	}
	var me *member
	httpOf := map[raft.ServerID]string{}
	peers := make([]peer, len(members))
	for i := range members {
		peers[i] = members[i].peer
		httpOf[raft.ServerID(members[i].ID)] = members[i].HTTP
		if members[i].ID == *id {
			me = &members[i]
		}
	}
	if me == nil || *dir == "" {
		return fmt.Errorf("--id %q must be one of --members, and --dir is needed", *id)
	}
	ln, err := net.Listen("tcp", me.HTTP)
	if err != nil {
		return err
	}
	n, err := startNode(me.peer, peers, *dir)
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		n.silence()
		n.close()
	}()

	leaderHTTP := func() (string, raft.ServerID) {
		_, lid := n.raft.LeaderWithID()
		return httpOf[lid], lid
	}
	// redirect answers a request this node cannot take: 307 to the leader
	// if one is known, else 503.
	redirect := func(w http.ResponseWriter, why string) {
		if addr, _ := leaderHTTP(); addr != "" && addr != me.HTTP {
			w.Header().Set("X-Raft-Leader", addr)
			w.Header().Set("Location", "http://"+addr+"/apply")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		http.Error(w, why+"; no leader known yet", http.StatusServiceUnavailable)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		msg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessage))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if n.raft.State() != raft.Leader {
			redirect(w, "not the leader")
			return
		}
		err = n.raft.Apply(msg, sendTimeout).Error()
		switch {
		case err == nil:
			w.Write([]byte("committed\n"))
		case isLeadershipError(err):
			redirect(w, err.Error())
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		addr, lid := leaderHTTP()
		st := status{ID: me.ID, State: n.raft.State().String(), LeaderID: string(lid), LeaderHTTP: addr, Applied: n.raft.AppliedIndex()}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
