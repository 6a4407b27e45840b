module votestream

go 1.26
