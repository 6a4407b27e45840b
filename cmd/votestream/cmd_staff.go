package main

import (
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"time"

	"votestream/console/staff"
	"votestream/ingest/token"
	"votestream/schemas"
)

func init() {
	register(&command{
		name:    "staff",
		summary: "enrol district leads, the war room and the desk: a token signed with the staff key and a second factor (TOTP)",
		usage: `add ID --role district_lead|war_room|desk [--constituency ID] [--name NAME] --staff FILE --staff-keys FILE [--qr FILE.png]
       | code ID --staff FILE
       | keygen --staff-keys FILE | keygen --console-keys FILE

  add     enrols a person (a fresh authenticator secret, replacing any earlier one) in the
          enrolment file the console reads at every sign-in, and prints their token, signed
          with the staff key, and the otpauth:// URI to scan; --qr writes it as a PNG. Hand
          both to the person only, in person.
  code    prints a person's current 6-digit code from the enrolment file: for a local
          ` + "`up`" + ` or a test only, since it makes the file itself the second factor.
  keygen  appends a fresh key to the staff key file (creating it), making it active: see
          docs/operations.md for rotating it. Never the volunteers' key file. With
          --console-keys, to the key file the console and ingest share instead.`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			role := fs.String("role", "", "add: district_lead, war_room or desk")
			constituency := fs.String("constituency", "", "add: the district lead's constituency id")
			name := fs.String("name", "", "add: the person's name, shown to the war room and in the audit")
			org := fs.String("org", "war room", "add: the organisation in the token")
			staffFile := fs.String("staff", "", "enrolment file (JSON, mode 0600), the console's --staff")
			staffKeys := fs.String("staff-keys", "", "staff key file, the console's and ingest's --staff-keys")
			consoleKeys := fs.String("console-keys", "", "keygen: the console key file instead, the console's and ingest's --console-keys")
			validFor := fs.Duration("valid-for", 7*24*time.Hour, "add: how long the token stays valid")
			qr := fs.String("qr", "", "add: write the otpauth URI as a PNG QR code to this file")
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					return fmt.Errorf("%w: want `staff add ID ...`, `staff code ID` or `staff keygen`", errUsage)
				}
				switch args[0] {
				case "keygen":
					if (*staffKeys == "") == (*consoleKeys == "") || len(args) != 1 {
						return fmt.Errorf("%w: keygen needs --staff-keys FILE or --console-keys FILE", errUsage)
					}
					if *consoleKeys != "" {
						return appendKey(*consoleKeys, "console-"+time.Now().UTC().Format("20060102-150405"))
					}
					return appendKey(*staffKeys, "staff-"+time.Now().UTC().Format("20060102-150405"))
				case "code":
					if len(args) != 2 || *staffFile == "" {
						return fmt.Errorf("%w: code ID --staff FILE", errUsage)
					}
					members, err := staff.Load(*staffFile)
					if err != nil {
						return err
					}
					m, ok := staff.Find(members, args[1])
					if !ok {
						return fmt.Errorf("%w: %s is not in %s", errUsage, args[1], *staffFile)
					}
					code, err := staff.Code(m, time.Now())
					if err != nil {
						return err
					}
					fmt.Println(code)
					return nil
				case "add":
				default:
					return fmt.Errorf("%w: unknown action %q: want add, code or keygen", errUsage, args[0])
				}
				if len(args) != 2 || *staffFile == "" || *staffKeys == "" {
					return fmt.Errorf("%w: add ID --role ROLE --staff FILE --staff-keys FILE", errUsage)
				}
				if !token.Privileged(*role) || *role == "" {
					return fmt.Errorf("%w: --role %q: want district_lead, war_room or desk", errUsage, *role)
				}
				ring, err := token.LoadStaffKeyring(*staffKeys)
				if err != nil {
					return err
				}
				now := time.Now()
				c := token.Claims{TokenID: token.NewTokenID(), VolunteerID: args[1], Org: *org, Role: *role,
					Constituency: *constituency, IssuedAt: now, ExpiresAt: now.Add(*validFor)}
				if *role != schemas.RoleDistrictLead && *constituency != "" {
					return fmt.Errorf("%w: only a district lead has a --constituency", errUsage)
				}
				tok, err := ring.Issue(c) // checks the role and scope before anything is written
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				key, err := staff.Enrol(*staffFile, staff.Member{ID: args[1], Name: *name, Role: *role, Constituency: *constituency}, now)
				if err != nil {
					return err
				}
				if *qr != "" {
					img, err := key.Image(320, 320)
					if err != nil {
						return err
					}
					f, err := os.OpenFile(*qr, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
					if err != nil {
						return err
					}
					if err := png.Encode(f, img); err != nil {
						f.Close()
						return err
					}
					if err := f.Close(); err != nil {
						return err
					}
				}
				fmt.Fprintf(os.Stderr, "staff: %s enrolled as %s %s in %s; token valid until %s\n", args[1], *role, *constituency, *staffFile, c.ExpiresAt.Format(time.RFC3339))
				fmt.Printf("token: %s\notpauth: %s\n", tok, key.URL())
				if *qr != "" {
					fmt.Printf("qr: %s\n", *qr)
				}
				return nil
			}
		},
	})
}
