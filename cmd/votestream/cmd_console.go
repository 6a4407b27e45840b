package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"votestream/console"
	"votestream/console/staff"
	"votestream/ingest/s3store"
	"votestream/ingest/token"
	"votestream/schemas"
)

func init() {
	register(&command{
		name:    "console",
		summary: "serve the review console of district leads and the war room, and the decision desk: the queue API, evidence photos, calls and the web app",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := console.DefaultConfig()
			var cf clickhouseFlags
			cf.register(fs, defaultClickHouse)
			var rf roleFlags // --kafka: the decision desk's calls.v1 and estimates.v1, and the console's refusals.v1; --kafka "" turns both off
			rf.register(fs, "127.0.0.1:9107")
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address of the console (web app and API)")
			fs.StringVar(&cfg.StaffKeysFile, "staff-keys", "", "staff key file (leads', war room's and desk's tokens; ingest's --staff-keys, never the volunteers' --keys); required")
			fs.StringVar(&cfg.StaffFile, "staff", "", "enrolment file of the second factor, written by `votestream staff add`; required")
			fs.StringVar(&cfg.ConsoleKeysFile, "console-keys", "", "key file shared with ingest (its --console-keys; `staff keygen --console-keys FILE`): every decision and official figure forwarded to ingest is signed with it; empty signs nothing, with a warning")
			fs.BoolVar(&cfg.SecureCookies, "secure-cookies", false, "mark the session cookie Secure although requests arrive as plain HTTP: behind a proxy that terminates TLS")
			fs.DurationVar(&cfg.SessionIdle, "session-idle", cfg.SessionIdle, "a session unused this long ends")
			fs.DurationVar(&cfg.SessionMax, "session-max", cfg.SessionMax, "a session ends this long after sign-in, used or not")
			fs.DurationVar(&cfg.OverrideTTL, "override-ttl", cfg.OverrideTTL, "how long an override waits for its second approver before it expires")
			fs.StringVar(&cfg.RevocationFile, "revocations", "", "file of revoked volunteer and token ids, as ingest reads it")
			fs.StringVar(&cfg.IngestURL, "ingest", cfg.IngestURL, "ingest's base URL: decisions and official figures are sent there")
			fs.StringVar(&cfg.EvidenceDir, "evidence-dir", cfg.EvidenceDir, "ingest's evidence folder, read here (unless --evidence-s3-endpoint is set)")
			s3 := s3store.DefaultConfig()
			s3Parsed := evidenceS3Flags(fs, &s3, "S3-compatible server (host:port) holding ingest's evidence bucket, instead of --evidence-dir (read access is enough)")
			fs.DurationVar(&cfg.Refresh, "refresh", cfg.Refresh, "how often the queue is re-read from ClickHouse")
			return func(ctx context.Context, args []string) error {
				country, reg, err := rf.start(args)
				if err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Registerer = rf.seeds(), rf.topicPrefix(), country, reg
				cfg.ClickHouseAddr, cfg.Database, cfg.Username, cfg.Password = cf.addr, cf.database, cf.user, cf.password
				if s3Parsed(); s3.Endpoint != "" {
					cfg.EvidenceS3 = &s3
				}
				c, err := console.New(cfg)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				return withMetrics(ctx, rf.metrics, reg, c.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "console", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		if env.clickhouse.addr == "" {
			return upStarted{describe: "off (no --clickhouse)"}, nil
		}
		cfg := console.DefaultConfig()
		cfg.Country, cfg.StaffKeysFile, cfg.Listen = env.country, env.staffKeysFile, env.consoleListen
		cfg.StaffFile = filepath.Join(env.dataDir, "staff.json")
		cfg.ConsoleKeysFile = env.consoleKeysFile
		cfg.ClickHouseAddr, cfg.Database, cfg.Username, cfg.Password = env.clickhouse.addr, env.clickhouse.database, env.clickhouse.user, env.clickhouse.password
		cfg.IngestURL = "http://" + env.listen
		cfg.Seeds, cfg.TopicPrefix = env.seeds, env.topicPrefix
		cfg.EvidenceDir = filepath.Join(env.dataDir, "evidence")
		cfg.Registerer = env.metrics
		c, err := console.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		login, err := consoleLogins(env, cfg.StaffFile)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "http://" + cfg.Listen + " (review console; LOCAL sign-in for two war room members, the desk and one lead: see " + login + ")", run: c.Run}, nil
	}})
}

// consoleLogins enrols, for a local `up` only, two war room members (two, so that an
// override can be approved by a second person), a decision desk member and a district lead of the first
// constituency, and writes <data>/console-login.txt: each one's token, valid a day, and
// how to get their current authenticator code without a phone. Each `up` enrols afresh.
func consoleLogins(env upEnv, staffFile string) (string, error) {
	ring, err := token.LoadStaffKeyring(env.staffKeysFile)
	if err != nil {
		return "", err
	}
	now := time.Now()
	cons := env.country.Constituencies[0].ID
	people := []staff.Member{
		{ID: "up-war-room", Name: "war room (up)", Role: schemas.RoleWarRoom},
		{ID: "up-war-room-2", Name: "second war room member (up)", Role: schemas.RoleWarRoom},
		{ID: "up-desk", Name: "decision desk (up)", Role: schemas.RoleDesk},
		{ID: "up-lead-" + cons, Name: "lead of " + cons + " (up)", Role: schemas.RoleDistrictLead, Constituency: cons},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# votestream up: LOCAL console sign-ins, valid until %s. For trying things out only:\n", now.Add(24*time.Hour).Format(time.RFC3339))
	fmt.Fprintf(&b, "# the authenticator secrets are in %s; a real war room enrols people with `votestream staff add`.\n", staffFile)
	fmt.Fprintf(&b, "# Sign in at http://%s (the desk: /desk.html) with the token and the code printed by the command under it.\n\n", env.consoleListen)
	for _, m := range people {
		key, err := staff.Enrol(staffFile, m, now)
		if err != nil {
			return "", err
		}
		tok, err := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: m.ID, Org: "war room", Role: m.Role,
			Constituency: m.Constituency, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s (%s %s)\n  token: %s\n  code:  votestream staff code %s --staff %s\n  app:   %s\n\n", m.ID, m.Role, m.Constituency, tok, m.ID, staffFile, key.URL())
	}
	path := filepath.Join(env.dataDir, "console-login.txt")
	err = writeFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, b.String())
		return err
	})
	if err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}
