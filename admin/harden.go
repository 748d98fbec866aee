package admin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	sv "github.com/childslot/supervisor"
)

// This file holds what bounds the cost of a client: the deadlines the
// handler sets on each connection, the Host check, the bound on heavy
// answers in flight, and the encoded tree kept per snapshot.

// ServeHTTP serves r by its route, within the handler's own deadlines and
// from an allowed Host (the probes from any).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	// A recorder or a wrapping writer may not support deadlines: the
	// server's own timeouts are then all there is.
	_ = rc.SetReadDeadline(now.Add(h.opts.ReadTimeout))
	if rc.SetWriteDeadline(now.Add(h.opts.WriteTimeout)) == nil {
		// Flush within the deadline, then lift it, so that the next
		// request on the connection, maybe to another handler of a
		// server without a WriteTimeout, does not inherit it.
		defer func() {
			if rc.Flush() == nil {
				_ = rc.SetWriteDeadline(time.Time{})
			}
		}()
	}
	if r.URL.Path != "/livez" && r.URL.Path != "/readyz" && !h.hostAllowed(r.Host) {
		writeError(w, http.StatusForbidden, "host "+r.Host+" not allowed: the admin answers to loopback names and IP literals, and to Options.Hosts")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether a request's Host names this server, as far
// as a DNS rebinding goes: an IP literal, localhost or a name below it
// (RFC 6761: they never leave the machine), or a name of Options.Hosts.
// An empty Host (HTTP/1.0) is allowed: a browser always sends one.
func (h *handler) hostAllowed(host string) bool {
	name := host
	if n, _, err := net.SplitHostPort(host); err == nil {
		name = n
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if _, err := netip.ParseAddr(name); err == nil || name == "" {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, a := range h.opts.Hosts {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "."), name) {
			return true
		}
	}
	return false
}

// heavyRoute bounds the answers of fn in flight, with the others of the
// handler's heavy routes, to Options.MaxHeavy: past it the answer is 503
// with Retry-After, and costs nothing.
func (h *handler) heavyRoute(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.heavy <- struct{}{}:
			defer func() { <-h.heavy }()
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "busy: too many large answers in flight; retry")
			return
		}
		fn(w, r)
	}
}

// encoded is the tree of one snapshot, encoded once for every request
// until the next publication.
type encoded struct {
	src     *sv.GroupRecord // the snapshot as published: the key
	snap    *sv.GroupRecord // as served (stacks left out unless allowed)
	raw, gz []byte
}

// treeCache keeps the latest snapshot's encoding.
type treeCache struct {
	mu  sync.Mutex // held while encoding, so that a publication is encoded once
	cur *encoded
}

// encodedTree returns the encoding of the tree's latest snapshot, or nil
// before the first.
func (h *handler) encodedTree() *encoded {
	src := h.g.Snapshot()
	if src == nil {
		return nil
	}
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	if c := h.cache.cur; c != nil && c.src == src {
		return c
	}
	snap := src
	if !h.opts.Stacks {
		c := src.WithoutStacks()
		snap = &c
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		raw, _ = json.Marshal(errorBody{Error: "encoding the tree: " + err.Error()})
	}
	raw = append(raw, '\n')
	h.cache.cur = &encoded{src: src, snap: snap, raw: raw, gz: gzipped(raw)}
	return h.cache.cur
}

// gzipped returns b compressed at the fastest level.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: no error
	_, _ = zw.Write(b)                                 // writes to a buffer do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether r's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// gzipMin is the size below which an answer goes uncompressed.
const gzipMin = 1 << 10

// writeBody writes body, of type ctype, with code: compressed when r
// accepts it and it is worth it (gz, when not nil, is body compressed
// already). Answers are never cached: they say how the tree is now.
func writeBody(w http.ResponseWriter, r *http.Request, code int, ctype string, body, gz []byte) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Vary", "Accept-Encoding")
	if len(body) >= gzipMin && acceptsGzip(r) {
		if gz == nil {
			gz = gzipped(body)
		}
		hd.Set("Content-Encoding", "gzip")
		body = gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // an error here is the client's going away
	}
}
