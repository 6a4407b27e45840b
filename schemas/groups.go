package schemas

// ConsumerGroup is the default Kafka consumer group of role (e.g. "consolidate", "sink",
// "evidencelog") for the topics under topicPrefix: topicPrefix + "votestream-" + role. The
// prefix is part of it so that runs under different prefixes on one broker (a test night
// next to the live one) never share a group, its committed offsets or its members.
func ConsumerGroup(topicPrefix, role string) string { return topicPrefix + "votestream-" + role }
