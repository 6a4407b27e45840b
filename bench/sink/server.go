package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// These read the local ClickHouse server's CPU, as bench/ingest reads the broker's (a copy:
// two small functions of a benchmark each, not worth a shared package). The sink and
// clickhouse-client pay the same server, so its CPU per row in each phase says whether a
// difference is the sink's own work or what the server does with the sink's inserts.

// listenerPID is the process on this machine listening on addr's port, or 0 when none is
// found (a remote server, or /proc not readable).
func listenerPID(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, p, inodes)
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// listeningInodes adds the socket inodes of f's (/proc/net/tcp format) listeners on port.
func listeningInodes(f string, port int, into map[string]bool) {
	file, err := os.Open(f)
	if err != nil {
		return
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Scan() // header
	want := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(fields) > 9 && strings.HasSuffix(fields[1], want) && fields[3] == "0A" {
			into[fields[9]] = true
		}
	}
}

// procCPU is the user plus system CPU time process pid has used, or 0 when unreadable.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// After the command name (which may hold spaces), utime and stime are the 12th and
	// 13th fields, in clock ticks of 1/100 s (USER_HZ).
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
