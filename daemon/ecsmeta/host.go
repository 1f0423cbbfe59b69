package ecsmeta

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
)

// ownDockerID finds the dev container's own Docker container id under
// root (normally "/"): in /proc/self/cgroup with cgroup v1
// ("12:cpu:/docker/<id>"), else in /proc/self/mountinfo, where Docker and
// Podman mount the container's /etc/hostname from
// .../containers/<id>/hostname. With cgroup v2 and a private cgroup
// namespace (/proc/self/cgroup is "0::/") only the second works. "" when
// neither names one: outside a container, say.
func ownDockerID(root string) string {
	for _, f := range []struct {
		path string
		re   *regexp.Regexp
	}{
		{"proc/self/cgroup", cgroupDockerID},
		{"proc/self/mountinfo", mountDockerID},
	} {
		b, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			if m := f.re.FindSubmatch(sc.Bytes()); m != nil {
				return string(m[1])
			}
		}
	}
	return ""
}

var (
	cgroupDockerID = regexp.MustCompile(`[/-]([0-9a-f]{64})(?:\.scope)?$`)
	mountDockerID  = regexp.MustCompile(`containers/([0-9a-f]{64})/`)
)

// interfaceAddrs lists the addresses of this network namespace's
// interfaces that are up, but loopback and link-local ones.
func interfaceAddrs() []hostAddr {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []hostAddr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() {
				continue
			}
			out = append(out, hostAddr{Prefix: p.String(), MAC: ifc.HardwareAddr.String()})
		}
	}
	return out
}

// splitPrefix turns "172.17.0.2/16" into the address and its subnet,
// "172.17.0.0/16".
func splitPrefix(s string) (ip, subnet string, ok bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", "", false
	}
	return p.Addr().String(), p.Masked().String(), true
}
