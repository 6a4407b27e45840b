package ingest

import (
	"crypto/tls"
	"fmt"
	"net"

	"golang.org/x/crypto/acme/autocert"
)

// tlsListener wraps ln in TLS when Config asks for it: a certificate and key from files
// (reloaded at every handshake, so a renewed certificate needs no restart), or certificates
// obtained by ACME for ACMEDomains through TLS-ALPN-01 on this very listener.
func (s *Server) tlsListener(ln net.Listener) (net.Listener, error) {
	switch {
	case s.cfg.TLSCertFile != "":
		// Load once now so a wrong path fails the start, not the first phone.
		if _, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile); err != nil {
			ln.Close()
			return nil, fmt.Errorf("ingest: TLS certificate: %w", err)
		}
		cert, key := s.cfg.TLSCertFile, s.cfg.TLSKeyFile
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"},
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				c, err := tls.LoadX509KeyPair(cert, key)
				return &c, err
			},
		}
		s.log.Info("ingest: serving HTTPS", "cert", cert)
		return tls.NewListener(ln, cfg), nil
	case len(s.cfg.ACMEDomains) > 0:
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(s.cfg.ACMECacheDir),
			HostPolicy: autocert.HostWhitelist(s.cfg.ACMEDomains...),
		}
		cfg := m.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		s.log.Info("ingest: serving HTTPS with ACME certificates", "domains", s.cfg.ACMEDomains, "cache", s.cfg.ACMECacheDir)
		return tls.NewListener(ln, cfg), nil
	}
	return ln, nil
}
