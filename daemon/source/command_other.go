//go:build !unix

package source

import "os/exec"

// killGroupOnCancel leaves exec's default: kill the shell only.
func killGroupOnCancel(*exec.Cmd) {}
