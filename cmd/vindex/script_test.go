package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain runs the test binary as the vindex command when a script runs
// "exec vindex" (main itself: the same exit codes), and otherwise builds
// the binary of the end-to-end tests and runs the tests.
func TestMain(m *testing.M) {
	testscript.Main(runFunc(func() int { return buildAndRun(m) }), map[string]func(){"vindex": main})
}

// runFunc is a testscript.TestingM.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// TestScripts runs the CLI scripts of testdata/script: a script per
// command, with its --help, its errors on bad input and a happy path that
// needs no server, no network and no Vault. The format is testscript's
// (github.com/rogpeppe/go-internal/testscript); besides its commands a
// script may use
//
//	exits CODE PROGRAM [ARGS...]
//
// which runs PROGRAM and fails unless it exits with status CODE; stdout
// and stderr then match its output as after exec, and
//
//	private PATH
//
// which fails if PATH or anything under it has a group or other
// permission bit. $EXAMPLES is the
// repository's examples directory and $SCENARIOS rules/testdata/scenarios.
func TestScripts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", filepath.Join(root, "examples"))
			env.Setenv("SCENARIOS", filepath.Join(root, "rules", "testdata", "scenarios"))
			// Under -race, a process sleeps a second at exit by default:
			// a second for every command of every script.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": exitsCmd, "private": privateCmd},
	})
}

// exitsCmd is the scripts' "exits CODE PROGRAM [ARGS...]".
func exitsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// privateCmd is the scripts' "private PATH".
func privateCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: private PATH")
	}
	n := 0
	err := filepath.WalkDir(ts.MkAbs(args[0]), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			ts.Fatalf("private: %s has mode %04o", path, perm)
		}
		n++
		return nil
	})
	ts.Check(err)
	ts.Logf("private: %d files and directories", n)
}
