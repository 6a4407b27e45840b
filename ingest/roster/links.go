package roster

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// PersonalLink is the form's address carrying tok in its fragment.
func PersonalLink(base, tok string) string {
	return strings.TrimRight(base, "/") + "/#t=" + tok
}

// checkLinkBase accepts "" or an absolute http(s) URL without query or fragment; http only
// for loopback, since the form needs a secure context (WebCrypto, service worker).
func checkLinkBase(base string) (string, error) {
	if base == "" {
		return "", nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("roster: link base %q: want the form's address, such as https://report.example.org", base)
	}
	if u.Scheme == "http" && u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1" {
		return "", fmt.Errorf("roster: link base %q: phones open the form only over https (http is for localhost)", base)
	}
	return strings.TrimRight(base, "/"), nil
}

type qrCode struct{ name, link string }

// qrFileName is a volunteer id as a file name: "org/0042" -> "org_0042.png".
func qrFileName(volunteerID string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, volunteerID) + ".png"
}

// writeQRCodes writes one PNG per link into dir (nothing when dir is "").
func writeQRCodes(dir string, codes []qrCode) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("roster: QR folder: %w", err)
	}
	for _, c := range codes {
		// Low error correction keeps a long token's code coarse enough for a cheap camera.
		png, err := qrcode.Encode(c.link, qrcode.Low, 512)
		if err != nil {
			return fmt.Errorf("roster: QR code of %s: %w", c.name, err)
		}
		if err := writeAtomic(filepath.Join(dir, c.name), png); err != nil {
			return err
		}
	}
	return nil
}
