package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// play is the default story: rounds of two orders, with a crash between
// rounds, then a moment for the consumer to catch up.
func play(ctx context.Context, logger *slog.Logger, first <-chan string, crashes int, pace time.Duration) {
	var addr string
	select {
	case <-ctx.Done():
		return
	case addr = <-first:
	}
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	order := 0
	for round := range crashes + 1 {
		for range 2 {
			order++
			if !post(ctx, client, "http://"+addr+"/orders?id="+strconv.Itoa(order), pace) {
				return
			}
		}
		if round < crashes {
			logger.Info("story: tell the server to crash")
			if !post(ctx, client, "http://"+addr+"/crash", pace) {
				return
			}
		}
	}
	sleep(ctx, 3*pace)
}

// post posts to url until the server accepts, then waits pace; it reports
// false when ctx ended first.
func post(ctx context.Context, client *http.Client, url string, pace time.Duration) bool {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return sleep(ctx, pace)
			}
		}
		sleep(ctx, 50*time.Millisecond) // the server is restarting: try again
	}
	return false
}

// sleep waits d and reports whether ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
