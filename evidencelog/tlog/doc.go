// Package tlog is what the transparency log, its witnesses and `votestream verify` share:
// key files, signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note) and their
// cosignatures (C2SP tlog-cosignature), proof bundles, and reading a C2SP tlog-tiles log
// from a URL or a folder to build, check and audit proofs.
//
// It reads and verifies; it never writes a log. Every parser here takes bytes a stranger
// may have sent (a checkpoint, a cosignature, a proof bundle), so each has a fuzz target
// and refuses rather than guesses.
package tlog
