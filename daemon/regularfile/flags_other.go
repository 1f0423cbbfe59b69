//go:build !unix

package regularfile

// Elsewhere there are no FIFOs to guard against in the same way; the
// fstat check still refuses what is not a regular file.
const (
	openNonBlock = 0
	openNoFollow = 0
)
