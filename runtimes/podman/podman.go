// Package podman lists the running containers of a podman API service
// (`podman system service`), root or rootless, through its libpod REST API
// socket.
package podman

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

// DefaultSocket is where root's podman service listens unless told otherwise.
const DefaultSocket = "/run/podman/podman.sock"

// rootlessGlob matches the sockets of the rootless users' podman services.
const rootlessGlob = "/run/user/*/podman/podman.sock"

// apiPrefix is the libpod API version asked for; podman 4.0 and newer
// answer it.
const apiPrefix = "/v4.0.0/libpod"

// maxBody bounds an API answer read.
const maxBody = 64 << 20

// Client is one podman service's API. It implements runtimes.Client.
type Client struct {
	socket   string
	ownerUID uint32
	http     *http.Client
}

var _ runtimes.Client = (*Client)(nil)

// DiscoverRootless returns the rootless users' podman sockets that exist,
// /run/user/<uid>/podman/podman.sock, sorted.
func DiscoverRootless() []string { return discover(rootlessGlob) }

// discover returns the sockets matching pattern, sorted.
func discover(pattern string) []string {
	m, _ := filepath.Glob(pattern) // the patterns used are valid
	var out []string
	for _, p := range m {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == os.ModeSocket {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// New connects to the podman service at socket ("" means DefaultSocket) and
// checks that it answers. Its containers belong to the socket file's owner:
// 0 for root's service, the user's uid for a rootless one. The error wraps
// runtimes.ErrNoSocket when the socket does not exist.
func New(socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	fi, err := runtimes.StatSocket(runtimes.Podman, socket)
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("podman: %s: no owner in the file's status", socket)
	}
	c := &Client{
		socket:   socket,
		ownerUID: st.Uid,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
			MaxIdleConns:    2,
			IdleConnTimeout: 30 * time.Second,
		}},
	}
	if err := runtimes.CheckAnswers(runtimes.Podman, socket, func(ctx context.Context) error {
		return c.get(ctx, apiPrefix+"/_ping", nil)
	}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Name is runtimes.Podman.
func (c *Client) Name() string { return runtimes.Podman }

// Socket is the API socket it talks to.
func (c *Client) Socket() string { return c.socket }

// OwnerUID is the uid whose containers this service runs.
func (c *Client) OwnerUID() uint32 { return c.ownerUID }

// listEntry is the part of a libpod containers/json entry ig reads.
type listEntry struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Image  string            `json:"Image"`
	Pid    int               `json:"Pid"`
	Labels map[string]string `json:"Labels"`
	State  string            `json:"State"`
}

// runningFilter is the list query: running containers only.
var runningFilter = url.Values{"filters": {`{"status":["running"]}`}}.Encode()

// Containers lists the running containers with the host pids of their main
// processes.
func (c *Client) Containers(ctx context.Context) ([]runtimes.Container, error) {
	var list []listEntry
	if err := c.get(ctx, apiPrefix+"/containers/json?"+runningFilter, &list); err != nil {
		return nil, fmt.Errorf("podman: %s: listing containers: %w", c.socket, err)
	}
	return c.convert(list), nil
}

// convert builds runtimes.Containers from list entries, leaving out those
// not running or without a pid (stopped while being listed).
func (c *Client) convert(list []listEntry) []runtimes.Container {
	out := make([]runtimes.Container, 0, len(list))
	for _, e := range list {
		if e.Pid <= 0 || (e.State != "" && e.State != "running") {
			continue
		}
		ct := runtimes.Container{
			Runtime:  runtimes.Podman,
			ID:       e.ID,
			Image:    e.Image,
			Pid:      e.Pid,
			Labels:   e.Labels,
			OwnerUID: c.ownerUID,
		}
		if len(e.Names) > 0 {
			ct.Name = strings.TrimPrefix(e.Names[0], "/")
		}
		if ct.Labels == nil {
			ct.Labels = map[string]string{}
		}
		ct.PodName = ct.Labels[runtimes.LabelPodName]
		ct.PodNamespace = ct.Labels[runtimes.LabelPodNamespace]
		out = append(out, ct)
	}
	return out
}

// get GETs path and decodes the JSON answer into v (nil: ignore the body).
func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://d"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s%s", path, resp.Status, apiMessage(body))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding the answer: %w", path, err)
	}
	return nil
}

// apiMessage is ": <message>" from a libpod error body, or "".
func apiMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return ": " + e.Message
	}
	return ""
}

// Close drops the idle connections to the service.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}
