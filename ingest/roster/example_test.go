package roster_test

import (
	"fmt"

	"votestream/ingest/roster"
)

func ExampleNormalizePhone() {
	for _, s := range []string{"081-234-5678", "+66 (0) 81 234 5678", "๐๘๑๒๓๔๕๖๗๘", "02 123 4567"} {
		n, err := roster.NormalizePhone(s)
		fmt.Println(n, err)
	}
	// Output:
	// +66812345678 <nil>
	// +66812345678 <nil>
	// +66812345678 <nil>
	// +6621234567 <nil>
}
