package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Settings is one data source's configuration, from its jsonData and secureJsonData.
type Settings struct {
	// Brokers are the Kafka seed brokers, host:port (jsonData.brokers, comma-separated).
	// Required.
	Brokers []string
	// TopicPrefix is prepended to every topic name (jsonData.topicPrefix); default "".
	TopicPrefix string
	// ReferenceDir is a reference data folder (DESIGN.md §4 CSV files) on the Grafana host
	// (jsonData.referenceDir): party and candidate names, provinces, the candidate-to-party
	// map for constituency seats. Optional; without it panels show numbers.
	ReferenceDir string
	// MaxHistory is the number of estimates kept for the time series (jsonData.maxHistory);
	// default DefaultMaxHistory.
	MaxHistory int
	// TLS dials the brokers with TLS, verified against the system's roots (jsonData.tls).
	TLS bool
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (jsonData.saslMechanism).
	SASLMechanism string
	// SASLUser is the SASL user (jsonData.saslUser).
	SASLUser string
	// SASLPassword is the SASL password: a secret, so only in secureJsonData.saslPassword,
	// which Grafana stores encrypted and never sends to browsers.
	SASLPassword string
	// AnomalyRefresh is how often a stream of open anomalies is sent again with no change,
	// so ages and age groups move on (jsonData.anomalyRefreshSeconds); default 30 s.
	AnomalyRefresh time.Duration
}

// SASL mechanisms the plugin speaks.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// ErrSettings: the data source's settings cannot work. Messages name the setting.
var ErrSettings = errors.New("votestream data source: bad settings")

// jsonSettings is the jsonData Grafana stores for the data source.
type jsonSettings struct {
	Brokers               string `json:"brokers"`
	TopicPrefix           string `json:"topicPrefix"`
	ReferenceDir          string `json:"referenceDir"`
	MaxHistory            int    `json:"maxHistory"`
	TLS                   bool   `json:"tls"`
	SASLMechanism         string `json:"saslMechanism"`
	SASLUser              string `json:"saslUser"`
	AnomalyRefreshSeconds int    `json:"anomalyRefreshSeconds"`
}

// LoadSettings reads and checks a data source's settings.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var js jsonSettings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &js); err != nil {
			return Settings{}, fmt.Errorf("%w: jsonData: %v", ErrSettings, err)
		}
	}
	out := Settings{
		TopicPrefix:    strings.TrimSpace(js.TopicPrefix),
		ReferenceDir:   strings.TrimSpace(js.ReferenceDir),
		MaxHistory:     js.MaxHistory,
		TLS:            js.TLS,
		SASLMechanism:  strings.ToUpper(strings.TrimSpace(js.SASLMechanism)),
		SASLUser:       js.SASLUser,
		SASLPassword:   s.DecryptedSecureJSONData["saslPassword"],
		AnomalyRefresh: time.Duration(js.AnomalyRefreshSeconds) * time.Second,
	}
	for _, b := range strings.Split(js.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out.Brokers = append(out.Brokers, b)
		}
	}
	if out.MaxHistory == 0 {
		out.MaxHistory = DefaultMaxHistory
	}
	if out.AnomalyRefresh == 0 {
		out.AnomalyRefresh = 30 * time.Second
	}
	return out, out.Validate()
}

// Validate refuses settings that cannot work, naming the setting.
func (s Settings) Validate() error {
	if len(s.Brokers) == 0 {
		return fmt.Errorf("%w: brokers is empty (host:port, comma-separated)", ErrSettings)
	}
	for _, b := range s.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return fmt.Errorf("%w: broker %q is not host:port", ErrSettings, b)
		}
	}
	if s.MaxHistory < 1 {
		return fmt.Errorf("%w: maxHistory %d must be at least 1", ErrSettings, s.MaxHistory)
	}
	if s.AnomalyRefresh < time.Second {
		return fmt.Errorf("%w: anomalyRefreshSeconds must be at least 1", ErrSettings)
	}
	if s.SASLMechanism != "" {
		if !slices.Contains(saslMechanisms, s.SASLMechanism) {
			return fmt.Errorf("%w: saslMechanism %q is not one of %v", ErrSettings, s.SASLMechanism, saslMechanisms)
		}
		if s.SASLUser == "" || s.SASLPassword == "" {
			return fmt.Errorf("%w: saslMechanism %s needs saslUser and the secure saslPassword", ErrSettings, s.SASLMechanism)
		}
	}
	if s.ReferenceDir != "" {
		if fi, err := os.Stat(s.ReferenceDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("%w: referenceDir %q is not a folder on the Grafana host", ErrSettings, s.ReferenceDir)
		}
	}
	return nil
}
