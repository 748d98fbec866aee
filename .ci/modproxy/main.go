// Command modproxy writes a Go module proxy directory (GOPROXY=file://DIR)
// holding the modules of this work tree at one version, zipped by the same
// rules as the go command (golang.org/x/mod/zip: nested modules, vendor
// directories and files the go command would reject are left out). CI uses
// it to show that a fresh module can require both modules of the
// repository as a user would, without a replace or a go.work, and to check
// that prometheus/go.mod is tidy against the core at the coming release.
//
//	go run . -out DIR -version v0.1.0 github.com/childslot/supervisor=../.. ...
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	out := flag.String("out", "", "proxy directory to write")
	version := flag.String("version", "v0.1.0", "version to publish every module at")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -out DIR [-version V] modulepath=dir ...")
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		path, dir, ok := strings.Cut(arg, "=")
		if !ok {
			fail(fmt.Errorf("%q is not modulepath=dir", arg))
		}
		fail(publish(*out, module.Version{Path: path, Version: *version}, dir))
	}
}

// publish writes m's list, info, mod and zip files under out, from dir.
func publish(out string, m module.Version, dir string) error {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	base := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`+"\n", m.Version, time.Now().UTC().Format(time.RFC3339))
	for name, data := range map[string][]byte{
		"list":              []byte(m.Version + "\n"),
		m.Version + ".info": []byte(info),
		m.Version + ".mod":  gomod,
	} {
		if err := os.WriteFile(filepath.Join(base, name), data, 0o644); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(base, m.Version+".zip"))
	if err != nil {
		return err
	}
	if err := zip.CreateFromDir(f, m, dir); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	return f.Close()
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}
