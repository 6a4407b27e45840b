package estimate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime/debug"
)

// BuildVersion names the running build for the estimates it stamps: the main module's
// version and, when the binary was built from a VCS checkout, the revision (with "+dirty"
// for uncommitted changes).
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Path + "@" + bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

// MethodHash is "sha256:<hex>" of the settings as JSON (field names, in declaration order):
// equal settings give equal hashes, so an auditor can tell which settings made an estimate.
func MethodHash(m Method) string {
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
