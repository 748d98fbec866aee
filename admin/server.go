package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// The ready-made server's limits (see NewServer).
const (
	// ServerReadHeaderTimeout bounds a request's headers: a slow-headers
	// client is cut off.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout and ServerWriteTimeout bound a whole request and
	// its answer on routes that set no deadline of their own (the
	// handler's routes set theirs).
	ServerReadTimeout  = 30 * time.Second
	ServerWriteTimeout = 30 * time.Second
	// ServerIdleTimeout closes a kept-alive connection left idle.
	ServerIdleTimeout = 60 * time.Second
	// ServerMaxHeaderBytes bounds a request's headers in size.
	ServerMaxHeaderBytes = 16 << 10
	// ServerShutdownGrace is how long Serve lets the requests in flight
	// finish once its context is done.
	ServerShutdownGrace = 5 * time.Second
)

// NewServer returns an [http.Server] for h with every timeout and header
// limit set (the Server constants), so that no client holds a connection
// for long whatever it sends or fails to read. Set its Addr, ErrorLog or
// TLSConfig before serving.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}

// Serve serves h on ln with a [NewServer] until ctx is done, then shuts
// the server down, giving the requests in flight ServerShutdownGrace, and
// returns nil; or it returns the error that ended serving first. It
// closes ln either way.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewServer(h)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ServerShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // past the grace: cut what is left; the server ends either way
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ListenAndServe listens on the TCP address addr and serves h there as
// [Serve] does, until ctx is done. An admin port belongs on a loopback or
// private address: "127.0.0.1:9090".
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}
