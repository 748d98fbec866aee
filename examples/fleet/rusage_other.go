//go:build !unix

package main

import "time"

// cpuTime is not measured here.
func cpuTime() (time.Duration, bool) { return 0, false }

// peakRSS is not measured here.
func peakRSS() (int64, bool) { return 0, false }
