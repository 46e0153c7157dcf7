package lab_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wanlb/wanlb/internal/lab"
	"github.com/wanlb/wanlb/internal/labtest"
)

// procStatus reads a field like VmRSS (in kB) from /proc/<pid>/status.
func procStatus(b *testing.B, pid int, field string) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuSeconds is the user+system CPU time of a process so far.
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return float64(utime+stime) / 100 // USER_HZ is 100 on Linux
}

// BenchmarkFootprint measures the daemon's memory and CPU with 4 WANs
// probing 3 targets each every second (target: RSS at most 15 MB).
func BenchmarkFootprint(b *testing.B) {
	labtest.RequireRoot(b)
	l := newLab(b, lab.Options{ISPs: 4})
	d := startDaemon(b, l, labWANs(l, nil))
	defer d.stop()
	d.waitAllOnline(20 * time.Second)
	pid := d.proc.Cmd.Process.Pid
	const window = 60 * time.Second
	cpu0 := cpuSeconds(b, pid)
	var rss []int
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(5 * time.Second) {
		rss = append(rss, procStatus(b, pid, "VmRSS"))
	}
	cpu := cpuSeconds(b, pid) - cpu0
	peak := procStatus(b, pid, "VmHWM")
	report(b, fmt.Sprintf("Daemon footprint: 4 WANs x 3 targets probed every second, over %s (amd64, built as shipped)", window),
		fmt.Sprintf("  RSS median %.1f MB, peak %.1f MB (target <= 15 MB: %v)\n  CPU %.2f s per minute",
			float64(medianInt(rss))/1024, float64(peak)/1024, peak <= 15*1024, cpu*float64(time.Minute)/float64(window)))
	b.ReportMetric(float64(peak)/1024, "peak-MB")
}

func medianInt(xs []int) int {
	s := append([]int(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
