package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// File is one generated dashboard file.
type File struct {
	Name string // file name under dashboards/
	Data []byte
}

// Files renders every dashboard as the JSON Grafana provisions: indented, ending in a
// newline, byte for byte what the generator writes.
func Files() ([]File, error) {
	builds := []struct {
		name  string
		build func() (dashboard.Dashboard, error)
	}{
		{"war-room.json", WarRoom},
		{"constituency.json", Constituency},
		{"field.json", Field},
		{"anomalies.json", Anomalies},
		{"pipeline-health.json", Pipeline},
	}
	files := make([]File, 0, len(builds))
	for _, b := range builds {
		d, err := b.build()
		if err != nil {
			return nil, fmt.Errorf("dashboards: build %s: %w", b.name, err)
		}
		data, err := encode(d)
		if err != nil {
			return nil, fmt.Errorf("dashboards: encode %s: %w", b.name, err)
		}
		files = append(files, File{Name: b.name, Data: data})
	}
	return files, nil
}

// htmlEscapes are what encoding/json writes for <, > and &. The SDK's types marshal their
// parts with json.Marshal, which escapes them whatever the encoder is told, and SQL full of
// \u003e is hard to review in a diff.
var htmlEscapes = []struct{ escaped, plain string }{
	{`\u003c`, "<"}, {`\u003e`, ">"}, {`\u0026`, "&"},
}

// encode writes d as indented JSON with <, > and & left readable. The unescaping is checked
// rather than trusted: the result must decode to the same value as the escaped form.
func encode(d dashboard.Dashboard) ([]byte, error) {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	plain := raw
	for _, e := range htmlEscapes {
		plain = bytes.ReplaceAll(plain, []byte(e.escaped), []byte(e.plain))
	}
	var before, after any
	if err := json.Unmarshal(raw, &before); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(plain, &after); err != nil || !reflect.DeepEqual(before, after) {
		return nil, errors.New("unescaping <, > and & changed the document")
	}
	return append(plain, '\n'), nil
}
