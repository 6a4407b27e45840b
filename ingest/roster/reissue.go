package roster

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"

	"votestream/ingest/token"
	"votestream/schemas"
)

// ReissueConfig is what `votestream volunteers reissue` can be told.
type ReissueConfig struct {
	// TokensFile is the tokens CSV an import wrote; the volunteer's row is replaced with the
	// new token (and link). Required.
	TokensFile string
	// TokenKeysFile signs the new token and checks the old one. Required.
	TokenKeysFile string
	// VolunteerID is whose link to replace, as the tokens file spells it. Required.
	VolunteerID string
	// LinkBase and QRDir as for Import: the new link, and its QR code.
	LinkBase, QRDir string
	// By is who asked for it (an organiser), kept in the reissue event.
	By string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Reissued is a new personal link and the fieldwork.v1 event that retires the older ones.
type Reissued struct {
	Token, Link string
	Event       schemas.FieldEvent
}

// Reissue makes a volunteer a new personal link with the scope of their current token, to
// be opened on a new phone: once the returned event is in fieldwork.v1, ingest refuses
// every older token of the volunteer (401 TOKEN_REVOKED, "replaced by a newer one") and the
// new one binds to the first phone that opens it. The tokens file is rewritten with the new
// token by SaveReissued, which the caller calls once the event is in fieldwork.v1, so a
// link is never handed out that ingest would not honour.
func Reissue(cfg ReissueConfig) (Reissued, error) {
	var out Reissued
	switch {
	case cfg.TokensFile == "" || cfg.TokenKeysFile == "" || cfg.VolunteerID == "":
		return out, errors.New("roster: reissue needs the tokens file, the key file and a volunteer id")
	case cfg.QRDir != "" && cfg.LinkBase == "":
		return out, errors.New("roster: QR codes need a link base (the form's address)")
	}
	base, err := checkLinkBase(cfg.LinkBase)
	if err != nil {
		return out, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	keys, err := token.LoadKeyring(cfg.TokenKeysFile)
	if err != nil {
		return out, err
	}
	data, err := os.ReadFile(cfg.TokensFile)
	if err != nil {
		return out, fmt.Errorf("roster: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(rows) == 0 {
		return out, fmt.Errorf("roster: tokens file %s: %v", cfg.TokensFile, err)
	}
	header := rows[0]
	col := func(name string) int { return slices.Index(header, name) }
	iID, iTok, iExp := col("volunteer_id"), col("token"), col("expires_at")
	if iID < 0 || iTok < 0 || iExp < 0 {
		return out, fmt.Errorf("roster: %s is not a tokens file (volunteer_id, token, expires_at)", cfg.TokensFile)
	}
	at := slices.IndexFunc(rows[1:], func(r []string) bool { return len(r) == len(header) && r[iID] == cfg.VolunteerID })
	if at < 0 {
		return out, fmt.Errorf("roster: volunteer %s is not in %s", cfg.VolunteerID, cfg.TokensFile)
	}
	row := rows[1+at]
	exp, err := time.Parse(time.RFC3339, row[iExp])
	if err != nil {
		return out, fmt.Errorf("roster: %s: expires_at %q: %w", cfg.VolunteerID, row[iExp], err)
	}
	// The old token is read as of just before it expires: a lost phone's link may have
	// lapsed, and its scope is still what the new one needs.
	old, err := keys.Verify(row[iTok], exp.Add(-time.Second))
	if err != nil {
		return out, fmt.Errorf("roster: %s: the old token: %w", cfg.VolunteerID, err)
	}
	issuedAt := now().Truncate(time.Second)
	if !old.IssuedAt.Before(issuedAt) {
		issuedAt = old.IssuedAt.Add(time.Second) // the new token must be newer than the one it retires
	}
	c := old
	c.TokenID, c.IssuedAt, c.Bind = token.NewTokenID(), issuedAt, base != "" || old.Bind
	if !c.ExpiresAt.After(issuedAt) {
		c.ExpiresAt = issuedAt.Add(DefaultImportConfig().ValidFor)
	}
	if out.Token, err = keys.Issue(c); err != nil {
		return out, fmt.Errorf("roster: %s: %w", cfg.VolunteerID, err)
	}
	out.Event = schemas.FieldEvent{
		EventID: uuid.NewString(), Kind: schemas.FieldReissue, VolunteerID: c.VolunteerID, Org: c.Org,
		TokenID: c.TokenID, IssuedAt: c.IssuedAt.UTC(), By: cfg.By, At: now().UTC(),
	}
	if base != "" {
		out.Link = PersonalLink(base, out.Token)
	}
	return out, nil
}

// SaveReissued writes the tokens file with the reissued row, and the QR code: call it once
// the event is in fieldwork.v1.
func SaveReissued(cfg ReissueConfig, r Reissued) error {
	data, err := os.ReadFile(cfg.TokensFile)
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	header := rows[0]
	iID, iTok, iExp, iLink := slices.Index(header, "volunteer_id"), slices.Index(header, "token"), slices.Index(header, "expires_at"), slices.Index(header, "link")
	keys, err := token.LoadKeyring(cfg.TokenKeysFile)
	if err != nil {
		return err
	}
	c, err := keys.Verify(r.Token, r.Event.IssuedAt)
	if err != nil {
		return fmt.Errorf("roster: the new token: %w", err)
	}
	for _, row := range rows[1:] {
		if len(row) == len(header) && row[iID] == cfg.VolunteerID {
			row[iTok], row[iExp] = r.Token, c.ExpiresAt.UTC().Format(time.RFC3339)
			if iLink >= 0 {
				row[iLink] = r.Link
			}
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	if err := writeAtomic(cfg.TokensFile, buf.Bytes()); err != nil {
		return err
	}
	if cfg.QRDir != "" && r.Link != "" {
		return writeQRCodes(cfg.QRDir, []qrCode{{name: qrFileName(cfg.VolunteerID), link: r.Link}}, nil)
	}
	return nil
}
