package pebblestore_test

import (
	"syscall"
	"testing"
)

type syscallStatfs = syscall.Statfs_t

func statfs(t *testing.T, dir string, st *syscallStatfs) int64 {
	t.Helper()
	if err := syscall.Statfs(dir, st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

func statfsNoT(dir string, st *syscallStatfs) int64 {
	if err := syscall.Statfs(dir, st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}
