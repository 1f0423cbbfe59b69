package ecsmeta

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
)

// The stats documents have the Docker Engine stats API's shape
// (https://docs.docker.com/engine/api/v1.30/#operation/ContainerStats),
// field for field as the ECS agent vendors it
// (agent/vendor/github.com/docker/docker/api/types/stats.go: StatsJSON),
// plus v4's network_rate_stats (ecs-agent/tmds/handlers/v4/state
// StatsResponse, ecs-agent/stats/types.go NetworkStatsPerSec). They are
// read from the dev container's own cgroup v2 files the way dockerd reads
// a cgroup v2 container (moby daemon/stats_unix.go, statsV2). cgroup v1
// is left out: its fields stay zero, and credd says so once in its log.

type throttlingData struct {
	Periods          uint64 `json:"periods"`
	ThrottledPeriods uint64 `json:"throttled_periods"`
	ThrottledTime    uint64 `json:"throttled_time"`
}

type cpuUsage struct {
	TotalUsage uint64 `json:"total_usage"`
	// PercpuUsage is left out: "PercpuUsage is not supported" on cgroup v2.
	PercpuUsage       []uint64 `json:"percpu_usage,omitempty"`
	UsageInKernelmode uint64   `json:"usage_in_kernelmode"`
	UsageInUsermode   uint64   `json:"usage_in_usermode"`
}

type cpuStats struct {
	CPUUsage       cpuUsage       `json:"cpu_usage"`
	SystemUsage    uint64         `json:"system_cpu_usage,omitempty"`
	OnlineCPUs     uint32         `json:"online_cpus,omitempty"`
	ThrottlingData throttlingData `json:"throttling_data"`
}

type memoryStats struct {
	Usage uint64 `json:"usage,omitempty"`
	// MaxUsage: "MaxUsage is not supported" on cgroup v2.
	MaxUsage uint64            `json:"max_usage,omitempty"`
	Stats    map[string]uint64 `json:"stats,omitempty"`
	Failcnt  uint64            `json:"failcnt,omitempty"`
	Limit    uint64            `json:"limit,omitempty"`
}

type blkioEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// blkioStats: only io_service_bytes_recursive is filled on cgroup v2
// ("Other fields are unsupported"); the others are [] as in the ECS
// examples, not null.
type blkioStats struct {
	IoServiceBytesRecursive []blkioEntry `json:"io_service_bytes_recursive"`
	IoServicedRecursive     []blkioEntry `json:"io_serviced_recursive"`
	IoQueuedRecursive       []blkioEntry `json:"io_queue_recursive"`
	IoServiceTimeRecursive  []blkioEntry `json:"io_service_time_recursive"`
	IoWaitTimeRecursive     []blkioEntry `json:"io_wait_time_recursive"`
	IoMergedRecursive       []blkioEntry `json:"io_merged_recursive"`
	IoTimeRecursive         []blkioEntry `json:"io_time_recursive"`
	SectorsRecursive        []blkioEntry `json:"sectors_recursive"`
}

type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type networkStats struct {
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	RxDropped uint64 `json:"rx_dropped"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxErrors  uint64 `json:"tx_errors"`
	TxDropped uint64 `json:"tx_dropped"`
}

type networkRate struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// dockerStats is StatsJSON: what /v3/<id>/stats serves.
type dockerStats struct {
	Read         time.Time               `json:"read"`
	PreRead      time.Time               `json:"preread"`
	PidsStats    pidsStats               `json:"pids_stats"`
	BlkioStats   blkioStats              `json:"blkio_stats"`
	NumProcs     uint32                  `json:"num_procs"`
	StorageStats struct{}                `json:"storage_stats"`
	CPUStats     cpuStats                `json:"cpu_stats"`
	PreCPUStats  cpuStats                `json:"precpu_stats"`
	MemoryStats  memoryStats             `json:"memory_stats"`
	Name         string                  `json:"name,omitempty"`
	ID           string                  `json:"id,omitempty"`
	Networks     map[string]networkStats `json:"networks,omitempty"`
}

// statsV4 adds the rates: "For Amazon ECS tasks that use the awsvpc or
// bridge network modes ... there will be additional network rate stats
// included in the response" (v4 docs, /stats).
type statsV4 struct {
	dockerStats
	NetworkRateStats *networkRate `json:"network_rate_stats,omitempty"`
}

// sample is one reading of the counters.
type sample struct {
	read  time.Time
	cpu   cpuStats
	mem   memoryStats
	pids  pidsStats
	blkio blkioStats
	nets  map[string]networkStats
}

// minSampleInterval keeps precpu_stats meaningful: requests closer
// together than this get the same reading, as from the ECS agent, which
// serves the last of the samples it takes each second.
const minSampleInterval = time.Second

// sampler reads the counters and keeps the previous reading, which
// becomes precpu_stats and preread.
type sampler struct {
	root  string
	clock clock.Clock
	log   *slog.Logger

	mu         sync.Mutex
	last, prev *sample
	warned     bool // the cgroup v1 warning was logged
}

// current returns the latest reading and the one before (nil at first),
// taking a new one when the latest is older than minSampleInterval.
func (s *sampler) current() (last, prev *sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.last == nil || now.Sub(s.last.read) >= minSampleInterval {
		s.prev, s.last = s.last, s.take(now)
	}
	return s.last, s.prev
}

// take reads every counter; a file that is missing or unreadable leaves
// its fields zero.
func (s *sampler) take(now time.Time) *sample {
	sm := &sample{read: now, mem: memoryStats{}, nets: map[string]networkStats{}}
	sm.cpu.SystemUsage, sm.cpu.OnlineCPUs = s.systemCPU()
	if dir := s.cgroupDir(); dir != "" {
		s.readCgroup(dir, sm)
	}
	s.readNetDev(sm)
	return sm
}

// cgroupDir is the dev container's own cgroup v2 directory: the path of
// the "0::" line of /proc/self/cgroup under /sys/fs/cgroup ("0::/" with a
// private cgroup namespace, the usual case in a container). Every cgroup
// v2 directory has a cgroup.controllers file; without one the host runs
// cgroup v1 (or the hybrid layout, whose v2 tree has no controllers) and
// the answer is "".
func (s *sampler) cgroupDir() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "proc/self/cgroup"))
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			dir := filepath.Join(s.root, "sys/fs/cgroup", filepath.Clean("/"+p))
			if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
				return dir
			}
		}
	}
	if !s.warned {
		s.warned = true
		s.log.Info("task metadata stats: no cgroup v2 controllers here (cgroup v1 or hybrid), which credd does not read; cpu, memory, io and pids stats are zero", "component", "ecs")
	}
	return ""
}

// memoryStatKeys are the memory.stat keys dockerd reports on cgroup v2.
var memoryStatKeys = []string{
	"anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty",
	"file_writeback", "anon_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
	"unevictable", "slab_reclaimable", "slab_unreclaimable", "pgfault", "pgmajfault",
	"workingset_refault", "workingset_activate", "workingset_nodereclaim", "pgrefill", "pgscan",
	"pgsteal", "pgactivate", "pgdeactivate", "pglazyfree", "pglazyfreed", "thp_fault_alloc",
	"thp_collapse_alloc",
}

func (s *sampler) readCgroup(dir string, sm *sample) {
	// The kernel's cgroup v2 files
	// (https://docs.kernel.org/admin-guide/cgroup-v2.html): cpu.stat in
	// microseconds, Docker's fields in nanoseconds.
	cpu := keyValues(filepath.Join(dir, "cpu.stat"))
	sm.cpu.CPUUsage = cpuUsage{
		TotalUsage:        cpu["usage_usec"] * 1000,
		UsageInKernelmode: cpu["system_usec"] * 1000,
		UsageInUsermode:   cpu["user_usec"] * 1000,
	}
	sm.cpu.ThrottlingData = throttlingData{
		Periods:          cpu["nr_periods"],
		ThrottledPeriods: cpu["nr_throttled"],
		ThrottledTime:    cpu["throttled_usec"] * 1000,
	}

	memStat := keyValues(filepath.Join(dir, "memory.stat"))
	if len(memStat) > 0 {
		sm.mem.Stats = make(map[string]uint64, len(memoryStatKeys))
		for _, k := range memoryStatKeys {
			sm.mem.Stats[k] = memStat[k]
		}
	}
	sm.mem.Usage, _ = readUint(filepath.Join(dir, "memory.current"))
	// Failcnt is "the oom field of the memory.events file" for dockerd.
	sm.mem.Failcnt = keyValues(filepath.Join(dir, "memory.events"))["oom"]
	// "max" means no limit: dockerd then reports the machine's memory.
	if limit, ok := readUint(filepath.Join(dir, "memory.max")); ok {
		sm.mem.Limit = limit
	}
	if total := s.machineMemory(); total > 0 && (sm.mem.Limit == 0 || sm.mem.Limit > total) {
		sm.mem.Limit = total
	}

	sm.pids.Current, _ = readUint(filepath.Join(dir, "pids.current"))
	sm.pids.Limit, _ = readUint(filepath.Join(dir, "pids.max"))

	sm.blkio = emptyBlkio()
	for _, line := range lines(filepath.Join(dir, "io.stat")) {
		// "8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0"
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		majStr, minStr, ok := strings.Cut(fields[0], ":")
		if !ok {
			continue
		}
		major, err1 := strconv.ParseUint(majStr, 10, 64)
		minor, err2 := strconv.ParseUint(minStr, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		var rbytes, wbytes uint64
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				rbytes = n
			case "wbytes":
				wbytes = n
			}
		}
		sm.blkio.IoServiceBytesRecursive = append(sm.blkio.IoServiceBytesRecursive,
			blkioEntry{Major: major, Minor: minor, Op: "read", Value: rbytes},
			blkioEntry{Major: major, Minor: minor, Op: "write", Value: wbytes})
	}
}

func emptyBlkio() blkioStats {
	e := func() []blkioEntry { return []blkioEntry{} }
	return blkioStats{e(), e(), e(), e(), e(), e(), e(), e()}
}

// clockTicksPerSecond is USER_HZ, which "on Linux it's a constant" 100
// (moby daemon/stats_unix.go).
const clockTicksPerSecond = 100

// systemCPU is system_cpu_usage and online_cpus as dockerd computes them:
// the sum of the first seven fields of /proc/stat's "cpu" line (user to
// steal), in nanoseconds, and the number of "cpuN" lines.
func (s *sampler) systemCPU() (usage uint64, cpus uint32) {
	for _, line := range lines(filepath.Join(s.root, "proc/stat")) {
		if len(line) < 4 || line[:3] != "cpu" {
			break
		}
		if line[3] == ' ' {
			fields := strings.Fields(line)
			if len(fields) < 8 {
				continue
			}
			var ticks uint64
			for _, f := range fields[1:8] {
				n, _ := strconv.ParseUint(f, 10, 64)
				ticks += n
			}
			usage = ticks * 1e9 / clockTicksPerSecond
		}
		if line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	return usage, cpus
}

// machineMemory is MemTotal from /proc/meminfo, in bytes.
func (s *sampler) machineMemory() uint64 {
	for _, line := range lines(filepath.Join(s.root, "proc/meminfo")) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// readNetDev reads the container's interfaces from /proc/net/dev, all but
// lo: Docker reports the interfaces of the container's sandbox, which
// loopback is not one of.
func (s *sampler) readNetDev(sm *sample) {
	for _, line := range lines(filepath.Join(s.root, "proc/net/dev")) {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// Receive: bytes packets errs drop fifo frame compressed
		// multicast; then transmit: bytes packets errs drop (proc(5)).
		sm.nets[name] = networkStats{
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		}
	}
}

// statsDocument builds the stats document of the container called name with
// id from the latest reading and the previous one.
func statsDocument(last, prev *sample, name, id string, rates bool) statsV4 {
	doc := statsV4{dockerStats: dockerStats{
		Read:        last.read,
		PidsStats:   last.pids,
		BlkioStats:  last.blkio,
		CPUStats:    last.cpu,
		MemoryStats: last.mem,
		Name:        "/" + name, // Docker's names start with a slash
		ID:          id,
		Networks:    last.nets,
	}}
	if doc.BlkioStats.IoServiceBytesRecursive == nil {
		doc.BlkioStats = emptyBlkio()
	}
	if len(doc.Networks) == 0 {
		doc.Networks = nil
	}
	if prev != nil {
		doc.PreRead = prev.read
		doc.PreCPUStats = prev.cpu
	}
	if rates {
		doc.NetworkRateStats = &networkRate{}
		if prev != nil {
			if secs := last.read.Sub(prev.read).Seconds(); secs > 0 {
				rx, tx := totals(last.nets)
				prx, ptx := totals(prev.nets)
				if rx >= prx && tx >= ptx {
					doc.NetworkRateStats.RxBytesPerSec = float64(rx-prx) / secs
					doc.NetworkRateStats.TxBytesPerSec = float64(tx-ptx) / secs
				}
			}
		}
	}
	return doc
}

func totals(nets map[string]networkStats) (rx, tx uint64) {
	for _, n := range nets {
		rx += n.RxBytes
		tx += n.TxBytes
	}
	return rx, tx
}

// lines returns a small file's lines; none when it cannot be read.
func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// keyValues reads a flat-keyed cgroup file ("usage_usec 1234" lines).
func keyValues(path string) map[string]uint64 {
	m := map[string]uint64{}
	for _, line := range lines(path) {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// readUint reads a single-value cgroup file; "max" and missing files give
// false.
func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}
