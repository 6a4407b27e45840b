package schemas

import (
	"fmt"
	"regexp"
	"strings"
)

// The replicated form of the migrations, for a ClickHouse cluster (docs/operations.md,
// "ClickHouse on a cluster"): the same files, each statement rewritten by ClusterStatement,
// so the single-server schema and the cluster's never drift apart.

// ReplicatedPath is the Keeper (ZooKeeper) path of a replicated table: one per shard, database
// and table. {shard} and {replica} are macros every server of the cluster defines.
const ReplicatedPath = "/clickhouse/tables/{shard}/%s/%s"

var (
	clusterCreate = regexp.MustCompile("^(CREATE (DATABASE|TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS `([^`]+)`(?:\\.([A-Za-z_][A-Za-z0-9_]*))?)(\\s|$)")
	clusterEngine = regexp.MustCompile(`ENGINE = (Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree(\(([^)]*)\))?`)
	clusterName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ClusterStatement rewrites one statement of Migration.Statements for a cluster named
// cluster: CREATE DATABASE, TABLE, VIEW and MATERIALIZED VIEW run ON CLUSTER (on every
// server), and each table's MergeTree engine becomes its Replicated form at ReplicatedPath
// with replica '{replica}'. An INSERT (a backfill) is returned as it is: run once on one
// server, it reaches the other replicas by replication. Any other statement is an error, so
// a migration that adds a new kind of statement gets a thought about the cluster.
func ClusterStatement(stmt, cluster string) (string, error) {
	if !clusterName.MatchString(cluster) {
		return "", fmt.Errorf("schemas: cluster name %q: want letters, digits and _", cluster)
	}
	if strings.HasPrefix(stmt, "INSERT INTO ") {
		return stmt, nil
	}
	m := clusterCreate.FindStringSubmatchIndex(stmt)
	if m == nil {
		return "", fmt.Errorf("schemas: no cluster form for %q (want CREATE ... IF NOT EXISTS `db`.name or INSERT INTO)", firstLineOf(stmt))
	}
	kind, db, table := stmt[m[4]:m[5]], stmt[m[6]:m[7]], ""
	if m[8] >= 0 {
		table = stmt[m[8]:m[9]]
	}
	out := stmt[:m[3]] + " ON CLUSTER `" + cluster + "`" + stmt[m[3]:]
	if kind != "TABLE" {
		if clusterEngine.MatchString(out) && kind != "DATABASE" && !strings.Contains(out, " TO `") {
			// a materialized view with an inner table would need its engine replicated too
			return "", fmt.Errorf("schemas: %s: a view with its own MergeTree engine has no cluster form; write it with TO a table", firstLineOf(stmt))
		}
		return out, nil
	}
	engines := clusterEngine.FindAllStringSubmatchIndex(out, -1)
	if len(engines) != 1 {
		return "", fmt.Errorf("schemas: %s: %d MergeTree engines, want one", firstLineOf(stmt), len(engines))
	}
	e := engines[0]
	family := ""
	if e[2] >= 0 {
		family = out[e[2]:e[3]]
	}
	args := fmt.Sprintf("'"+ReplicatedPath+"', '{replica}'", db, table)
	if e[6] >= 0 && strings.TrimSpace(out[e[6]:e[7]]) != "" {
		args += ", " + strings.TrimSpace(out[e[6]:e[7]])
	}
	return out[:e[0]] + "ENGINE = Replicated" + family + "MergeTree(" + args + ")" + out[e[1]:], nil
}

// ClusterStatements is Statements in their cluster form (ClusterStatement).
func (m Migration) ClusterStatements(database, cluster string) ([]string, error) {
	stmts, err := m.Statements(database)
	if err != nil {
		return nil, err
	}
	for i, s := range stmts {
		if stmts[i], err = ClusterStatement(s, cluster); err != nil {
			return nil, fmt.Errorf("schemas: clickhouse/%s statement %d: %w", m.Name, i+1, err)
		}
	}
	return stmts, nil
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
