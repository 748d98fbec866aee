package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeploySystemd checks the systemd unit of deploy/systemd against what
// the tree needs: sd_notify readiness and watchdog, SIGTERM to the main
// process only (so that the tree stops its process members in order), more
// time to stop than the tree's shutdown takes, and a restart when the tree
// gives up. systemd-analyze verify checks the syntax in CI.
func TestDeploySystemd(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "deploy", "systemd", "supervisor-tree.service"))
	require.NoError(t, err)
	defer f.Close()
	service := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "not key=value: %q", line)
			service[k] = v
		}
	}
	require.NoError(t, sc.Err())

	assert.Equal(t, "notify", service["Type"])
	assert.Equal(t, "main", service["NotifyAccess"])
	assert.Equal(t, "mixed", service["KillMode"], "control-group would signal the process members at once")
	assert.Equal(t, "SIGTERM", service["KillSignal"])
	assert.Equal(t, "on-failure", service["Restart"], "exit 1 when the tree gives up is restarted")
	watchdog, err := time.ParseDuration(service["WatchdogSec"])
	require.NoError(t, err)
	assert.Positive(t, watchdog)
	stop, err := time.ParseDuration(service["TimeoutStopSec"])
	require.NoError(t, err)
	assert.Greater(t, stop, shutdownBound, "TimeoutStopSec must exceed the shutdown bound")
	assert.Contains(t, service["ExecStart"], " -serve")
}

// TestDeployKubernetes checks the Deployment of deploy/kubernetes: its
// probes ask admin's /livez and /readyz on the port the program serves the
// admin handler on, and its grace period exceeds the tree's shutdown. The
// core module has no YAML parser; the few fields are read by indentation.
func TestDeployKubernetes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "deployment.yaml"))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")

	assert.Equal(t, "Deployment", value(t, lines, "kind"))
	grace, err := strconv.Atoi(value(t, lines, "terminationGracePeriodSeconds"))
	require.NoError(t, err)
	assert.Greater(t, time.Duration(grace)*time.Second, shutdownBound,
		"terminationGracePeriodSeconds must exceed the shutdown bound")

	for probe, path := range map[string]string{"livenessProbe": "/livez", "readinessProbe": "/readyz"} {
		b := block(t, lines, probe)
		assert.Equal(t, path, value(t, b, "path"), probe)
		assert.Equal(t, "admin", value(t, b, "port"), probe)
	}
	ports := block(t, lines, "ports")
	var adminPort string
	for i, l := range ports {
		if strings.TrimSpace(l) == "- name: admin" {
			adminPort = value(t, ports[i+1:i+2], "containerPort")
		}
	}
	require.NotEmpty(t, adminPort, "no container port named admin")
	assert.Equal(t, `["-serve", "-port", "8080", "-admin", ":`+adminPort+`"]`, value(t, lines, "args"),
		"the program serves the admin handler on the probes' port")
}

// value returns the value of the first "key: value" line of lines.
func value(t *testing.T, lines []string, key string) string {
	t.Helper()
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimLeft(strings.TrimSpace(l), "- "), ":")
		if ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s", key)
	return ""
}

// block returns the lines indented under the first "key:" line of lines.
func block(t *testing.T, lines []string, key string) []string {
	t.Helper()
	for i, l := range lines {
		if strings.TrimSpace(l) != key+":" {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		end := i + 1
		for end < len(lines) && (strings.TrimSpace(lines[end]) == "" ||
			len(lines[end])-len(strings.TrimLeft(lines[end], " ")) > indent) {
			end++
		}
		return lines[i+1 : end]
	}
	t.Fatalf("no %s block", key)
	return nil
}
