//go:build !linux

package main

// harden is Linux-only (see harden_linux.go).
func harden([]string) {}
