package matcher_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runKilledChild runs this test binary's test as a child process with env
// added to its environment, and kills it with SIGKILL killAfter after it
// prints "ready", or at once when it has printed "pass" passes times (it
// has finished its work). It reports whether the kill came before the
// passes: the child was cut while it worked. The child must never end by
// itself.
func runKilledChild(t *testing.T, test string, env []string, killAfter time.Duration, passes int) (killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var timer *time.Timer
	seen := 0
	killed = true
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "ready":
			timer = time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
			continue
		case "pass":
			if seen++; seen < passes {
				continue
			}
			killed = timer == nil || !timer.Stop()
			cmd.Process.Signal(syscall.SIGKILL)
		default:
			continue
		}
		break
	}
	go func() {
		for sc.Scan() {
		}
	}()
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("%s's child ended by itself: %v", test, cmd.ProcessState)
	}
	return killed
}
