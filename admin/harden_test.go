package admin

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigTree runs, on the real clock, /app with groups g0, g1, ... of 100
// member slots each, n slots in all, member i named "m"+i. Each child runs
// until cancelled, unless mod, given i and the member's config to change,
// returns another. It returns once the tree runs, and stops it at the
// test's end.
func bigTree(t testing.TB, n int, mod func(i int, cfg *sv.Config) sv.ChildFunc) *sv.Group {
	t.Helper()
	g, err := sv.NewGroup("app", sv.GroupConfig{SnapshotInterval: 50 * time.Millisecond, Intensity: sv.NoIntensity})
	require.NoError(t, err)
	run := func(ctx context.Context, _ *sv.Attempt) error {
		<-ctx.Done()
		return ctx.Err()
	}
	var sub *sv.Group
	for i := range n {
		if i%100 == 0 {
			sub, err = sv.NewGroup("g"+strconv.Itoa(i/100), sv.GroupConfig{Intensity: sv.NoIntensity})
			require.NoError(t, err)
			require.NoError(t, g.AddGroup(sub))
		}
		cfg := quick()
		fn := run
		if mod != nil {
			if f := mod(i, &cfg); f != nil {
				fn = f
			}
		}
		_, err := sub.Add("m"+strconv.Itoa(i), fn, cfg)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the big tree did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for r := g.Snapshot(); r == nil || r.State != sv.GroupRunning; r = g.Snapshot() {
		require.True(t, time.Now().Before(deadline), "the big tree never ran")
		time.Sleep(10 * time.Millisecond)
	}
	return g
}

// TestTreeEncodedOncePerSnapshot: /tree is encoded once per published
// snapshot, not per request, and compressed for a client that takes gzip.
func TestTreeEncodedOncePerSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		start(t, g)
		hd := New(g, Options{})
		h := hd.(*handler)
		plain := do(hd, "GET", "/tree", "")
		require.Equal(t, http.StatusOK, plain.Code)
		first := h.cache.cur
		require.NotNil(t, first)
		zipped := do(hd, "GET", "/tree", "", "Accept-Encoding", "br, gzip;q=0.8")
		assert.Same(t, first, h.cache.cur, "the same snapshot is not encoded again")
		assert.Equal(t, "gzip", zipped.Header().Get("Content-Encoding"))
		assert.Contains(t, zipped.Header().Values("Vary"), "Accept-Encoding")
		zr, err := gzip.NewReader(zipped.Body)
		require.NoError(t, err)
		unzipped, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Equal(t, plain.Body.String(), string(unzipped))
		assert.Empty(t, do(hd, "GET", "/tree", "", "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding"))

		k.end("api", errBoom) // a change: the next snapshot is encoded anew
		fresh(t, g)
		decode[sv.GroupRecord](t, do(hd, "GET", "/tree", ""))
		assert.NotSame(t, first, h.cache.cur)
	})
}

// TestHostRebinding: a request under a Host that a DNS rebinding gives
// (an attacker's name resolving to the loopback) is refused, the command
// too, and changes nothing; loopback names, IP literals and Options.Hosts
// are served; the probes answer under any Host.
func TestHostRebinding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		start(t, g)
		h := New(g, Options{Authorize: alice, Hosts: []string{"admin.internal"}})
		evil := "http://rebind.evil.example:8081"
		for _, p := range []string{"/", "/tree", "/tree/app/db", "/events"} {
			w := do(h, "GET", evil+p, "")
			assert.Equal(t, http.StatusForbidden, w.Code, p)
			assert.Contains(t, decode[errorBody](t, w).Error, "host rebind.evil.example:8081 not allowed", p)
		}
		w := do(h, "POST", evil+"/commands", `{"op":"pause","path":"/app/api","reason":"x"}`,
			"Origin", evil, "Sec-Fetch-Site", "same-origin")
		assert.Equal(t, http.StatusForbidden, w.Code)
		fresh(t, g)
		api, _ := findMember(g.Snapshot(), "/app/api")
		assert.Equal(t, sv.OperationActive, api.Slot.Operation, "the command changed nothing")
		for _, p := range []string{"/livez", "/readyz"} {
			assert.Equal(t, http.StatusOK, do(h, "GET", evil+p, "").Code, p)
		}
		for _, host := range []string{"127.0.0.1:8081", "[::1]:8081", "localhost:8081", "LOCALHOST.", "admin.localhost",
			"10.1.2.3", "admin.internal:9090", "[fe80::1%25eth0]:80"} {
			assert.Equal(t, http.StatusOK, do(h, "GET", "http://"+host+"/tree", "").Code, host)
		}
		assert.Equal(t, http.StatusOK, do(New(g, Options{Hosts: []string{"*"}}), "GET", evil+"/tree", "").Code)
	})
}

// TestNonReadingClients: 100 clients that ask /tree of a 2,000-member
// tree and never read the answer hold at most MaxHeavy answers in flight
// (the rest get 503), raise the heap by at most a few encodings of the
// tree (one shared encoding, not one per client), and are cut off by the
// handler's write deadline, on a server with no timeouts of its own.
func TestNonReadingClients(t *testing.T) {
	g := bigTree(t, 2000, nil)
	const writeTimeout = 2 * time.Second // longer than the dialing of 100 clients on a loaded machine
	hd := New(g, Options{MaxHeavy: 4, WriteTimeout: writeTimeout})
	srv := httptest.NewUnstartedServer(hd)
	// Small socket buffers, so that an answer does not fit in them.
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		_ = c.(*net.TCPConn).SetWriteBuffer(4096)
		return ctx
	}
	var closed, lastClose atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
			lastClose.Store(time.Now().UnixNano())
		}
	}
	srv.Start()
	defer srv.Close()

	enc := hd.(*handler).encodedTree()
	require.NotNil(t, enc)
	raw := len(enc.raw)
	t.Logf("/tree of 2,000 members: %d bytes, %d gzipped", raw, len(enc.gz))

	before := heapInUse()
	began := time.Now()
	const clients = 100
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range clients {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
		_, err = fmt.Fprintf(c, "GET /tree HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		require.NoError(t, err)
		conns = append(conns, c)
	}
	time.Sleep(writeTimeout / 4)
	during := heapInUse()
	growth := int64(during) - int64(before)
	t.Logf("heap: %d MB before, %d MB with %d non-reading clients (growth %d KB; bound %d KB)",
		before>>20, during>>20, clients, growth>>10, (3*raw+8<<20)>>10)
	assert.Less(t, growth, int64(3*raw+8<<20), "the heap grows by the shared encoding, not one per client")

	// Past MaxHeavy the answer is 503 at once; the others are cut off by
	// the write deadline: the server closes their connections.
	busy, cut := 0, 0
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		switch resp.StatusCode {
		case http.StatusServiceUnavailable:
			busy++
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		case http.StatusOK:
			cut++
		default:
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	assert.LessOrEqual(t, cut, 4, "at most MaxHeavy answers in flight")
	assert.Equal(t, clients, busy+cut)
	require.Eventually(t, func() bool { return closed.Load() >= int64(cut) }, writeTimeout+5*time.Second, 10*time.Millisecond,
		"the server closed the connections of the answers it could not write")
	// Within the deadline, plus net/http's half second of lingering before
	// it closes a connection, plus a loaded machine's slack.
	assert.Less(t, time.Duration(lastClose.Load()-began.UnixNano()), writeTimeout+3*time.Second)
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSlowBodies: commands whose body comes one byte at a time, authorized
// or refused, are cut off within the handler's ReadTimeout on a server with
// no timeouts of its own, and change nothing.
func TestSlowBodies(t *testing.T) {
	g := bigTree(t, 1, nil)
	const readTimeout = 300 * time.Millisecond
	for _, tt := range []struct {
		name string
		opts Options
		code int
	}{
		{"authorized", Options{Authorize: alice, ReadTimeout: readTimeout}, http.StatusRequestTimeout},
		{"refused", Options{ReadTimeout: readTimeout}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(New(g, tt.opts))
			defer srv.Close()
			const clients = 20
			var wg sync.WaitGroup
			took := make([]time.Duration, clients)
			codes := make([]int, clients)
			for i := range clients {
				wg.Go(func() { took[i], codes[i] = slowPost(t, srv.Listener.Addr().String()) })
			}
			wg.Wait()
			for i := range clients {
				assert.Equal(t, tt.code, codes[i])
				assert.Less(t, took[i], readTimeout+2*time.Second, "closed within the handler's deadline")
			}
		})
	}
	m, _ := findMember(g.Snapshot(), "/app/g0/m0")
	assert.Equal(t, sv.OperationActive, m.Slot.Operation)
}

// slowPost sends a command one byte every 50ms until the server closes
// the connection (at most 5s), and returns how long that took and the
// answer's status code.
func slowPost(t *testing.T, addr string) (time.Duration, int) {
	body := `{"op":"pause","path":"/app/g0/m0","reason":"slow"}`
	c, err := net.Dial("tcp", addr)
	if !assert.NoError(t, err) {
		return 0, 0
	}
	defer func() { _ = c.Close() }()
	began := time.Now()
	_, err = fmt.Fprintf(c, "POST /commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if !assert.NoError(t, err) {
		return 0, 0
	}
	closed := make(chan int, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		code := 0
		if resp, err := http.ReadResponse(br, nil); err == nil {
			code = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		_, _ = io.Copy(io.Discard, br) // until the server closes it
		closed <- code
	}()
	for i := 0; ; i++ {
		select {
		case code := <-closed:
			return time.Since(began), code
		case <-time.After(50 * time.Millisecond):
		}
		if i < len(body) {
			_, _ = c.Write([]byte{body[i]}) // fails once the server closed it
		}
	}
}

// TestServer: the ready-made server sets every limit, serves until its
// context is done, and then returns nil.
func TestServer(t *testing.T) {
	s := NewServer(http.NotFoundHandler())
	assert.Equal(t, ServerReadHeaderTimeout, s.ReadHeaderTimeout)
	assert.Positive(t, s.ReadTimeout)
	assert.Positive(t, s.WriteTimeout)
	assert.Positive(t, s.IdleTimeout)
	assert.Equal(t, ServerMaxHeaderBytes, s.MaxHeaderBytes)

	g := bigTree(t, 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, New(g, Options{})) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	err = ListenAndServe(context.Background(), "256.0.0.1:0", nil)
	assert.Error(t, err, "a bad address")
}

// TestHeadAndBusy: a heavy route past MaxHeavy answers 503 with
// Retry-After at once.
func TestHeadAndBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		start(t, g)
		hd := New(g, Options{MaxHeavy: 1})
		h := hd.(*handler)
		h.heavy <- struct{}{} // one answer in flight
		w := do(hd, "GET", "/tree", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Equal(t, http.StatusOK, do(hd, "GET", "/readyz", "").Code, "the probes are not heavy")
		<-h.heavy
		w = do(hd, "HEAD", "/tree", "")
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Zero(t, w.Body.Len())
		assert.NotEqual(t, "0", w.Header().Get("Content-Length"))
	})
}
