package schemas

import "testing"

func TestPhotoType(t *testing.T) {
	for _, c := range []struct {
		head string
		want string
	}{
		{"\xFF\xD8\xFF\xE0rest", "image/jpeg"},
		{"\x89PNG\r\n\x1a\nIHDR", "image/png"},
		{"\x89PNG\r\n", "application/octet-stream"}, // cut short
		{"\xFF\xD8", "application/octet-stream"},
		{"GIF89a", "application/octet-stream"},
		{"", "application/octet-stream"},
	} {
		if got := PhotoType([]byte(c.head)); got != c.want {
			t.Errorf("PhotoType(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}
