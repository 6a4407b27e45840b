// Package localproc reads, from /proc, the CPU of a server running on this machine (the
// Kafka broker, ClickHouse): the benchmarks report it beside their own, because on these
// 2 cores a server's cost per item bounds what the client measured can reach.
package localproc

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

// ListenerPID is the process on this machine listening on addr's port, or 0 when none is
// found (a remote server, or /proc not readable).
func ListenerPID(addr string) int {
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

// stat is the fields of /proc/pid/stat after the command name (which may hold
// spaces), so the state is f[0]; nil when unreadable.
func stat(pid int) []string {
	if pid == 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// CPU is the user plus system CPU time process pid has used, or 0 when unreadable.
func CPU(pid int) time.Duration {
	// utime and stime are the 14th and 15th fields, in clock ticks of 1/100 s (USER_HZ).
	f := stat(pid)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// Age is how long ago process pid started, or 0 when unreadable. A broker's JVM compiles
// its hot paths in its first minutes: a run then measures the broker's warm-up (ingest's CPU
// per submission 128 µs on a broker a minute old, 70 to 85 µs on the same broker warmed, in
// the same hour).
func Age(pid int) time.Duration {
	f := stat(pid)
	up, err := os.ReadFile("/proc/uptime")
	if err != nil || len(f) < 20 {
		return 0
	}
	start, _ := strconv.ParseInt(f[19], 10, 64) // starttime, ticks after boot
	u := strings.Fields(string(up))
	if len(u) == 0 {
		return 0
	}
	secs, _ := strconv.ParseFloat(u[0], 64)
	return time.Duration(secs*float64(time.Second)) - time.Duration(start)*10*time.Millisecond
}
