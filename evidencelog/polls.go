package evidencelog

import (
	"time"

	"votestream/election"
)

func defaultPollsClose() time.Time { return election.PollsClose(election.DefaultElectionDay) }
