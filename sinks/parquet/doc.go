// Package parquet is the `export` role: it takes a consistent cut of the Kafka topics (every
// partition read from its start up to the last stable offset it had when the export began,
// read_committed) and writes what analysts need into one folder: the current station results
// (highest version per station and ballot), the anomalies (codes only), the latest estimate,
// every estimate of the night (the history) and the desk's calls, as Parquet files (and, on
// request, the station results and the history as Arrow IPC streams). Nothing in them names
// a volunteer, a reviewer or an organisation.
//
// It never writes to Kafka and never commits consumer offsets: an export is a read-only
// snapshot, and two exports of the same cut give the same rows. Each file is written under a
// temporary name and renamed into place; manifest.json is written last, so a folder with a
// manifest holds a complete export.
package parquet
