// A small stand-in for kind's kindnetd (the module sigs.k8s.io/kind/images/kindnetd
// is not served by the Go module proxy here). It does what a kind cluster needs of
// it, with the env kind's DaemonSet manifest gives (HOST_IP, POD_IP, POD_SUBNET):
//   - writes /etc/cni/net.d/10-kindnet.conflist (ptp + host-local on this node's
//     podCIDRs, portmap) once the controller-manager has assigned them;
//   - routes every other node's podCIDRs via that node's InternalIP;
//   - masquerades traffic from pods to destinations outside POD_SUBNET.
//
// No network policies (kindnetd's NRI/nfqueue part is left out).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	confDir   = "/etc/cni/net.d"
	confFile  = "10-kindnet.conflist"
	masqChain = "KIND-MASQ-AGENT"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format(time.RFC3339)}, args...)...)
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	podSubnets := splitList(os.Getenv("POD_SUBNET"))
	if hostIP == "" {
		logf("HOST_IP is not set")
		os.Exit(1)
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		logf("in-cluster config: %v", err)
		os.Exit(1)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	masqDone := map[string]bool{}
	lastConf := ""
	for {
		ok := reconcile(client, hostIP, podSubnets, masqDone, &lastConf)
		if ok {
			time.Sleep(10 * time.Second)
		} else {
			time.Sleep(2 * time.Second)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func isV6(cidrOrIP string) bool { return strings.Contains(cidrOrIP, ":") }

func internalIPs(n *v1.Node) []string {
	var ips []string
	for _, a := range n.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			ips = append(ips, a.Address)
		}
	}
	return ips
}

func nodeCIDRs(n *v1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// reconcile returns true when this node's CNI config is in place.
func reconcile(client kubernetes.Interface, hostIP string, podSubnets []string, masqDone map[string]bool, lastConf *string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		logf("listing nodes: %v", err)
		return false
	}
	var self *v1.Node
	for i := range nodes.Items {
		for _, ip := range internalIPs(&nodes.Items[i]) {
			if ip == hostIP {
				self = &nodes.Items[i]
			}
		}
	}
	if self == nil {
		logf("no node has InternalIP %s yet", hostIP)
		return false
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == self.Name {
			continue
		}
		for _, cidr := range nodeCIDRs(n) {
			_, dst, err := net.ParseCIDR(cidr)
			if err != nil {
				continue
			}
			for _, ip := range internalIPs(n) {
				if isV6(ip) != isV6(cidr) {
					continue
				}
				r := &netlink.Route{Dst: dst, Gw: net.ParseIP(ip)}
				if err := netlink.RouteReplace(r); err != nil {
					logf("route %s via %s (node %s): %v", cidr, ip, n.Name, err)
				}
			}
		}
	}
	for _, subnet := range podSubnets {
		if !masqDone[subnet] {
			if err := ensureMasquerade(subnet); err != nil {
				logf("masquerade for %s: %v", subnet, err)
			} else {
				masqDone[subnet] = true
			}
		}
	}
	cidrs := nodeCIDRs(self)
	if len(cidrs) == 0 {
		logf("node %s has no podCIDR yet", self.Name)
		return false
	}
	conf, err := cniConfig(cidrs)
	if err != nil {
		logf("cni config: %v", err)
		return false
	}
	if conf != *lastConf {
		if err := writeAtomic(filepath.Join(confDir, confFile), conf); err != nil {
			logf("writing cni config: %v", err)
			return false
		}
		logf("wrote %s for node %s, podCIDRs %v", confFile, self.Name, cidrs)
		*lastConf = conf
	}
	return true
}

func defaultMTU() int {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err == nil {
		for _, r := range routes {
			if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
				if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
					return l.Attrs().MTU
				}
			}
		}
	}
	return 1500
}

func cniConfig(cidrs []string) (string, error) {
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, c := range cidrs {
		ranges = append(ranges, []map[string]string{{"subnet": c}})
		if isV6(c) {
			routes = append(routes, map[string]string{"dst": "::/0"})
		} else {
			routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
		}
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    defaultMTU(),
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  routes,
					"ranges":  ranges,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n", err
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ensureMasquerade: traffic leaving for a non-local address that is not in the pod
// subnet is masqueraded (what kindnetd's ip-masq-agent does).
func ensureMasquerade(subnet string) error {
	ipt := "iptables"
	if isV6(subnet) {
		ipt = "ip6tables"
	}
	run := func(args ...string) error {
		out, err := exec.Command(ipt, append([]string{"-w", "5", "-t", "nat"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v: %s", ipt, strings.Join(args, " "), err, out)
		}
		return nil
	}
	_ = run("-N", masqChain) // exists already: fine
	jump := []string{"POSTROUTING", "-m", "addrtype", "!", "--dst-type", "LOCAL", "-m", "comment", "--comment", "kind-masq-agent", "-j", masqChain}
	if run(append([]string{"-C"}, jump...)...) != nil {
		if err := run(append([]string{"-A"}, jump...)...); err != nil {
			return err
		}
	}
	if err := run("-F", masqChain); err != nil {
		return err
	}
	if err := run("-A", masqChain, "-d", subnet, "-j", "RETURN"); err != nil {
		return err
	}
	return run("-A", masqChain, "-j", "MASQUERADE")
}
