// Package fileparse reads a file through the parser of its format, with the errors every
// key and list file of votestream gives: the open error under the caller's prefix, a parse
// error under the file's path. It owns no format of its own.
package fileparse

import (
	"fmt"
	"io"
	"os"
)

// Load opens path and returns parse's reading of it. An open error is wrapped as
// "<prefix>: <err>" (errors.Is finds fs.ErrNotExist), a parse error as "<path>: <err>".
func Load[T any](path, prefix string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", prefix, err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
