// Package realnight is a second generator of election nights, written apart from the
// estimator and from simulate's station model, to test the estimator on nights it was not
// designed around.
//
// It starts from constituencies (the real 2023 structure of a reference folder, whose files
// carry eligible voters and station counts but no votes, or a small synthetic structure) and
// builds everything below them its own way:
//
//   - a hidden administrative layer the reference data does not carry (districts, each a
//     block of subdistricts) and a hidden urbanity per subdistrict;
//   - party-list strengths as a logistic-normal: national, regional, provincial and
//     constituency terms, then Student-t (3 degrees of freedom, heavy-tailed) effects per
//     district, subdistrict and station, and a slope on the hidden urbanity;
//   - a constituency ballot that splits from the party list: candidate quality per race,
//     a patronage party whose candidates run far ahead of its list, strong candidates with no
//     party-list number;
//   - turnout that falls with station size and rises with one party's share;
//   - an urban column that is an administrative label, wrong for about one station in eight;
//   - reporting orders simulate does not have (Orders): whole districts in dumps, order
//     following a party's share, small rural stations then the cities, random;
//   - a previous election drawn from the same hidden structure with a national and regional
//     swing and fresh noise at every level (not from tonight's counts), some station ids
//     changed, one party new tonight, the parties numbered differently.
//
// It imports election only, and writes the reference data and results set in the CSV
// contract through election's writers, so every tool that reads simulate's output reads
// this one's.
package realnight
