package schemas

// PhotoType is the Content-Type of an evidence photo by its first bytes: ingest admits only
// JPEG and PNG, so anything else is application/octet-stream.
func PhotoType(head []byte) string {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return "image/jpeg"
	case len(head) >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n":
		return "image/png"
	}
	return "application/octet-stream"
}
