//go:build !linux

package main

// trimExecutable does nothing but on Linux (exetrim_linux.go).
func trimExecutable() (kB int, err error) { return 0, nil }
