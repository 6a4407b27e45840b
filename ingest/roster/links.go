package roster

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/sync/errgroup"
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

// writeQRCodes writes one PNG per link into dir (nothing when dir is ""), on every core:
// one code costs about 8 ms of CPU (2,000 took 16.5 s of CPU), so 100,000 volunteers need
// some 14 minutes of CPU. progress, when set, hears how many are done every 1,000 codes.
func writeQRCodes(dir string, codes []qrCode, progress io.Writer) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("roster: QR folder: %w", err)
	}
	var done atomic.Int64
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, c := range codes {
		g.Go(func() error {
			// Low error correction keeps a long token's code coarse enough for a cheap camera.
			png, err := qrcode.Encode(c.link, qrcode.Low, 512)
			if err != nil {
				return fmt.Errorf("roster: QR code of %s: %w", c.name, err)
			}
			// Not written atomically one by one: the whole folder is redone by a rerun.
			if err := os.WriteFile(filepath.Join(dir, c.name), png, 0o600); err != nil {
				return fmt.Errorf("roster: QR code: %w", err)
			}
			if n := done.Add(1); progress != nil && n%1000 == 0 {
				fmt.Fprintf(progress, "volunteers: %d of %d QR codes written\n", n, len(codes))
			}
			return nil
		})
	}
	return g.Wait()
}
