//go:build mage
// +build mage

// Builds the backend component with the SDK's build package, as @grafana/create-plugin
// scaffolds it: `go tool mage -v` builds every release target into dist/ as
// <executable>_<os>_<arch> (plugin.json "executable") and writes dist/go_plugin_build_manifest,
// the source checksums Grafana's plugin validator compares with the submitted source.
// mage itself is a tool dependency in go.mod, so nothing has to be installed first.
package main

import (
	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
)

// Default configures the default target.
var Default = build.BuildAll
