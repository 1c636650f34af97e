package networkpolicy

// The NetworkPolicy object of Kubernetes' networking.k8s.io/v1 API, with
// only the fields ig writes, spelled and ordered as k8s.io/api's types
// marshal them. Our own types, because k8s.io/api's would bring core/v1 and
// apimachinery (about 4 MiB, and their init work) into the binary to write
// one document; policy_test.go checks that our JSON decodes strictly into
// k8s.io/api's NetworkPolicy and marshals back to the same bytes.

// NetworkPolicy is a namespaced policy object.
type NetworkPolicy struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   ObjectMeta        `json:"metadata"`
	Spec       NetworkPolicySpec `json:"spec"`
}

// ObjectMeta is the policy's name and namespace.
type ObjectMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// NetworkPolicySpec selects the pod and lists what it may do.
type NetworkPolicySpec struct {
	PodSelector LabelSelector `json:"podSelector"`
	Ingress     []IngressRule `json:"ingress,omitempty"`
	Egress      []EgressRule  `json:"egress,omitempty"`
	PolicyTypes []string      `json:"policyTypes,omitempty"`
}

// LabelSelector selects by labels that must all be equal.
type LabelSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// IngressRule allows traffic to Ports from the peers From.
type IngressRule struct {
	Ports []Port `json:"ports,omitempty"`
	From  []Peer `json:"from,omitempty"`
}

// EgressRule allows traffic to the peers To on Ports.
type EgressRule struct {
	Ports []Port `json:"ports,omitempty"`
	To    []Peer `json:"to,omitempty"`
}

// Port is a protocol ("TCP", "UDP") and a port number.
type Port struct {
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
}

// Peer is pods (by namespace and pod labels) or an address block.
type Peer struct {
	PodSelector       *LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock       `json:"ipBlock,omitempty"`
}

// IPBlock is a CIDR.
type IPBlock struct {
	CIDR string `json:"cidr"`
}
