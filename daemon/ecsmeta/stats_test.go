package ecsmeta

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon/clock"
)

func getStats(t *testing.T, h *Handler, path string) statsV4 {
	t.Helper()
	_, _, body := get(t, h, path)
	var s statsV4
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return s
}

func TestStatsFromACgroupV2Tree(t *testing.T) {
	clk := clock.NewFake(testStart)
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", clock: clk})
	mustSetTask(t, h, devTask())
	clk.Advance(time.Second)
	s := getStats(t, h, "/v4/"+h.ID()+"/stats")

	// cpu.stat is in microseconds; Docker's fields are nanoseconds.
	wantCPU := cpuStats{
		CPUUsage: cpuUsage{TotalUsage: 360968000, UsageInKernelmode: 70968000, UsageInUsermode: 290000000},
		// /proc/stat "cpu" line: user..steal = 1149131+0+419550+3349713+17435+0+54067
		// ticks of 1/100 s.
		SystemUsage:    4989896 * 10_000_000,
		OnlineCPUs:     2,
		ThrottlingData: throttlingData{Periods: 10, ThrottledPeriods: 2, ThrottledTime: 1500000},
	}
	if !reflect.DeepEqual(s.CPUStats, wantCPU) {
		t.Errorf("cpu_stats %+v\nwant %+v", s.CPUStats, wantCPU)
	}
	if !reflect.DeepEqual(s.PreCPUStats, wantCPU) {
		t.Errorf("precpu_stats %+v, want the reading taken at SetTask (the files did not change)", s.PreCPUStats)
	}
	m := s.MemoryStats
	if m.Usage != 1806336 || m.Limit != 134217728 || m.Failcnt != 1 || m.MaxUsage != 0 {
		t.Errorf("memory_stats usage %d limit %d failcnt %d max_usage %d", m.Usage, m.Limit, m.Failcnt, m.MaxUsage)
	}
	if m.Stats["anon"] != 606208 || m.Stats["inactive_file"] != 987136 || m.Stats["pgfault"] != 4185 || len(m.Stats) != len(memoryStatKeys) {
		t.Errorf("memory_stats.stats %v", m.Stats)
	}
	if _, ok := m.Stats["zswap"]; ok {
		t.Error("memory_stats.stats has zswap, which dockerd does not report")
	}
	if s.PidsStats != (pidsStats{Current: 3}) {
		t.Errorf("pids_stats %+v, want current 3 and no limit (pids.max is max)", s.PidsStats)
	}
	wantIO := []blkioEntry{{259, 0, "read", 1459200}, {259, 0, "write", 314773504}, {7, 2, "read", 8192}, {7, 2, "write", 0}}
	if !reflect.DeepEqual(s.BlkioStats.IoServiceBytesRecursive, wantIO) || s.BlkioStats.IoServicedRecursive == nil {
		t.Errorf("blkio_stats %+v", s.BlkioStats)
	}
	wantNet := map[string]networkStats{"eth0": {RxBytes: 1981915687, RxPackets: 77007, RxErrors: 1, RxDropped: 2, TxBytes: 9011769, TxPackets: 61497, TxErrors: 3, TxDropped: 4}}
	if !reflect.DeepEqual(s.Networks, wantNet) {
		t.Errorf("networks %+v, want eth0 only (no lo)", s.Networks)
	}
	if s.ID != ownID || !strings.HasPrefix(s.Name, "/ecs-curltest-24-curl-") {
		t.Errorf("id %q name %q", s.ID, s.Name)
	}
	if !s.Read.Equal(testStart.Add(time.Second)) || !s.PreRead.Equal(testStart) {
		t.Errorf("read %v preread %v", s.Read, s.PreRead)
	}
	if s.NetworkRateStats == nil || *s.NetworkRateStats != (networkRate{}) {
		t.Errorf("network_rate_stats %+v, want zero rates for unchanged counters", s.NetworkRateStats)
	}
}

// copyTree copies testdata/cgroupv2 so a test can change the counters.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk("testdata/cgroupv2", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/cgroupv2", p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrecpuIsThePreviousReading(t *testing.T) {
	root := copyTree(t)
	clk := clock.NewFake(testStart)
	h := newTestHandler(t, handlerSetup{root: root, clock: clk})
	mustSetTask(t, h, devTask()) // first reading at testStart
	path := "/v4/" + h.ID() + "/stats"

	writeFile(t, root, "sys/fs/cgroup/cpu.stat", "usage_usec 400000\nuser_usec 320000\nsystem_usec 80000\n")
	writeFile(t, root, "proc/net/dev", "Inter-|\n face |\n  eth0: 1981925687 77010 1 2 0 0 0 0 9013769 61500 3 4 0 0 0 0\n")
	clk.Advance(500 * time.Millisecond)
	if s := getStats(t, h, path); !s.Read.Equal(testStart) {
		t.Errorf("half a second later: read %v, want the reading of %v (readings are a second apart at least)", s.Read, testStart)
	}

	clk.Advance(1500 * time.Millisecond)
	s := getStats(t, h, path)
	if !s.Read.Equal(testStart.Add(2*time.Second)) || !s.PreRead.Equal(testStart) {
		t.Errorf("read %v preread %v", s.Read, s.PreRead)
	}
	if s.CPUStats.CPUUsage.TotalUsage != 400000000 || s.PreCPUStats.CPUUsage.TotalUsage != 360968000 {
		t.Errorf("total_usage %d, precpu %d", s.CPUStats.CPUUsage.TotalUsage, s.PreCPUStats.CPUUsage.TotalUsage)
	}
	// 10000 bytes in and 2000 out over two seconds.
	if s.NetworkRateStats == nil || *s.NetworkRateStats != (networkRate{RxBytesPerSec: 5000, TxBytesPerSec: 1000}) {
		t.Errorf("network_rate_stats %+v", s.NetworkRateStats)
	}

	clk.Advance(3 * time.Second)
	if s := getStats(t, h, path); s.PreCPUStats.CPUUsage.TotalUsage != 400000000 || !s.PreRead.Equal(testStart.Add(2*time.Second)) {
		t.Errorf("the next reading's precpu is %d at %v, want the one before", s.PreCPUStats.CPUUsage.TotalUsage, s.PreRead)
	}
}

func TestMissingFilesGiveZeros(t *testing.T) {
	clk := clock.NewFake(testStart)
	h := newTestHandler(t, handlerSetup{clock: clk}) // an empty root
	mustSetTask(t, h, devTask())
	clk.Advance(time.Second)
	status, _, body := get(t, h, "/v4/"+h.ID()+"/stats")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var s statsV4
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.CPUStats, cpuStats{}) || s.MemoryStats.Usage != 0 || s.Networks != nil || s.BlkioStats.IoServiceBytesRecursive == nil {
		t.Errorf("stats from nothing: %s", body)
	}
}

func TestUnlimitedMemoryReportsTheMachines(t *testing.T) {
	root := copyTree(t)
	writeFile(t, root, "sys/fs/cgroup/memory.max", "max\n")
	h := newTestHandler(t, handlerSetup{root: root})
	mustSetTask(t, h, devTask())
	if got := getStats(t, h, "/v4/"+h.ID()+"/stats").MemoryStats.Limit; got != 8039272*1024 {
		t.Errorf("limit %d, want MemTotal %d", got, 8039272*1024)
	}
}

func TestCgroupV1IsLeftOut(t *testing.T) {
	root := copyTree(t)
	writeFile(t, root, "proc/self/cgroup", "12:cpu,cpuacct:/docker/"+ownID+"\n11:memory:/docker/"+ownID+"\n")
	h := newTestHandler(t, handlerSetup{root: root})
	mustSetTask(t, h, devTask())
	s := getStats(t, h, "/v4/"+h.ID()+"/stats")
	if s.CPUStats.CPUUsage.TotalUsage != 0 || s.MemoryStats.Usage != 0 || s.CPUStats.SystemUsage == 0 {
		t.Errorf("cgroup v1: cpu %+v memory %+v; want cgroup fields zero, /proc ones read", s.CPUStats, s.MemoryStats)
	}
	if s.ID != ownID {
		t.Errorf("id %q, want the one in the v1 cgroup path", s.ID)
	}
}

func TestTaskStatsListEveryContainer(t *testing.T) {
	task := devTask()
	task.Definition.ContainerDefinitions = append(task.Definition.ContainerDefinitions,
		ecstypes.ContainerDefinition{Name: aws.String("xray"), Image: aws.String("amazon/aws-xray-daemon")})
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2"})
	mustSetTask(t, h, task)
	d := h.docs.Load()
	if len(d.otherDockerIDs) != 1 {
		t.Fatalf("other containers %v", d.otherDockerIDs)
	}
	other := d.otherDockerIDs[0]
	for _, tt := range []struct {
		version string
		other   string
	}{
		// What the agent serves for a container whose stats it cannot get.
		{"v4", "{}"},
		{"v3", "null"},
	} {
		_, _, body := get(t, h, "/"+tt.version+"/"+h.ID()+"/task/stats")
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || string(m[other]) != tt.other || !strings.Contains(string(m[ownID]), `"cpu_stats"`) {
			t.Errorf("%s task stats: %s", tt.version, body)
		}
		if tt.version == "v3" && strings.Contains(string(body), "network_rate_stats") {
			t.Error("v3 stats have network_rate_stats, a v4 addition")
		}
	}
}
