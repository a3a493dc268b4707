package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// vindex serve listens on DIR/backup.sock, a Unix socket in its data
// directory, for one request only: write a checkpoint of the store to a
// directory (vindex backup, while the server has the store open and
// Pebble's lock keeps every other process out). The socket is 0600 in a
// directory that is 0700: only the data directory's owner, who can read
// the store's files anyway, can connect; it is never on the network and
// needs no token.
//
// The protocol is one JSON line each way:
//
//	→ {"checkpoint":"/abs/path/of/DIR2/store"}
//	← {} or {"error":"…"}

// backupSocket is the socket's path.
func backupSocket(c config) string { return filepath.Join(c.Data, "backup.sock") }

// maxSocketPath is the longest path a Unix socket can have (sun_path).
const maxSocketPath = 107

type checkpointRequest struct {
	Checkpoint string `json:"checkpoint"`
}

type checkpointAnswer struct {
	Error string `json:"error,omitempty"`
}

// checkpointer is what the socket needs of the store.
type checkpointer interface {
	Checkpoint(ctx context.Context, dir string) error
}

// listenBackups serves the backup socket until the function it returns is
// called. It is called with the store open (its lock held), so a socket
// file left there is a dead server's and is replaced. A path too long
// for a socket is logged, and serve goes on without it.
func listenBackups(c config, st checkpointer, logger *slog.Logger) (stop func(), err error) {
	path, err := filepath.Abs(backupSocket(c))
	if err != nil {
		return nil, err
	}
	if len(path) > maxSocketPath {
		logger.Warn("no backup socket: the data directory's path is too long for a Unix socket; vindex backup works only with the server stopped",
			slog.String("path", path))
		return func() {}, nil
	}
	if info, err := os.Lstat(path); err == nil && info.Mode().Type() == fs.ModeSocket {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("backup socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("backup socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed
			}
			// One checkpoint at a time: a second request waits.
			answerCheckpoint(ctx, conn, c, st, logger)
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			ln.Close()
			wg.Wait()
		})
	}, nil
}

// answerCheckpoint reads one request from conn, writes the checkpoint and
// answers.
func answerCheckpoint(ctx context.Context, conn net.Conn, c config, st checkpointer, logger *slog.Logger) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req checkpointRequest
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	var ans checkpointAnswer
	switch {
	case err != nil:
		ans.Error = "not a checkpoint request"
	case !filepath.IsAbs(req.Checkpoint):
		ans.Error = "the checkpoint's directory must be an absolute path"
	default:
		if err := checkBackupTarget(c, filepath.Clean(req.Checkpoint)); err != nil {
			ans.Error = err.Error()
			break
		}
		start := time.Now()
		if err := st.Checkpoint(ctx, req.Checkpoint); err != nil {
			ans.Error = err.Error()
			logger.Error("backup checkpoint failed", slog.String("dir", req.Checkpoint), slog.String("error", err.Error()))
		} else {
			logger.Info("backup checkpoint written", slog.String("dir", req.Checkpoint), slog.Duration("took", time.Since(start)))
		}
	}
	b, _ := json.Marshal(ans)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	conn.Write(append(b, '\n'))
}

// errNoServer: no server answers on the backup socket.
var errNoServer = errors.New("no server answers on the backup socket")

// askCheckpoint asks the server of c's data directory to write a
// checkpoint of its store to dir (absolute); errNoServer if none answers.
func askCheckpoint(c config, dir string) error {
	path, err := filepath.Abs(backupSocket(c))
	if err != nil {
		return err
	}
	conn, err := net.Dial("unix", path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENAMETOOLONG) {
		return errNoServer
	}
	if err != nil {
		return fmt.Errorf("backup socket: %w", err)
	}
	defer conn.Close()
	b, _ := json.Marshal(checkpointRequest{Checkpoint: dir})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("backup socket: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("backup socket: the server did not answer: %w", err)
	}
	var ans checkpointAnswer
	if err := json.Unmarshal(line, &ans); err != nil {
		return fmt.Errorf("backup socket: %w", err)
	}
	if ans.Error != "" {
		return fmt.Errorf("the server: %s", ans.Error)
	}
	return nil
}
